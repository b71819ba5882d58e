"""Wiring of the latent_density pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import encode_training_set, fit_density


def create_pipeline(**kwargs) -> Pipeline:
    """Encode the training images with the latest `vae_model` and fit the `latent_density`."""
    return pipeline(
        [
            node(
                encode_training_set,
                ["vae_model", "model_input_train", "params:latent_density"],
                "train_posterior_mean",
                name="encode_training_set",
            ),
            node(
                fit_density,
                [
                    "vae_model",
                    "train_posterior_mean",
                    "model_input_train_labels",
                    "params:latent_density",
                    "params:seed",
                ],
                "latent_density",
                name="fit_density",
            ),
        ],
        namespace="latent_density",
        prefix_datasets_with_namespace=False,
    )
