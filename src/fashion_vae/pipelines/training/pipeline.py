"""Wiring of the training pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import train_vae


def create_pipeline(**kwargs) -> Pipeline:
    """Train the VAE on the model inputs."""
    return pipeline(
        [
            node(
                train_vae,
                ["model_input_train", "model_input_validation", "params:training", "params:seed"],
                ["vae_model", "training_history", "training_progress"],
                name="train_vae",
            )
        ],
        namespace="training",
        prefix_datasets_with_namespace=False,
    )
