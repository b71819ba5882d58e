"""Wiring of the encode pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import describe_images, plot_encodings, prepare_images


def create_pipeline(**kwargs) -> Pipeline:
    """Encode every image of `encode.input_dir` with the latest (or pinned) `vae_model`."""
    return pipeline(
        [
            node(
                prepare_images,
                ["user_images", "params:encode"],
                ["user_model_inputs", "user_image_table"],
                name="prepare_images",
            ),
            node(
                describe_images,
                {
                    "vae": "vae_model",
                    "inputs": "user_model_inputs",
                    "image_table": "user_image_table",
                    "train_images": "model_input_train",
                    "train_posterior_mean": "train_posterior_mean",
                    "train_labels": "model_input_train_labels",
                    "encode": "params:encode",
                },
                ["encodings", "user_reconstructions"],
                name="describe_images",
            ),
            node(
                plot_encodings,
                ["user_model_inputs", "user_reconstructions", "encodings", "params:encode"],
                "encodings_grid",
                name="plot_encodings",
            ),
        ],
        namespace="encode",
        prefix_datasets_with_namespace=False,
    )
