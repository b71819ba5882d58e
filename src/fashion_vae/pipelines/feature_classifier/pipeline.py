"""Wiring of the feature_classifier pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import train_classifier


def create_pipeline(**kwargs) -> Pipeline:
    """Train the classifier on the model inputs and store it, versioned."""
    return pipeline(
        [
            node(
                train_classifier,
                {
                    "train_images": "model_input_train",
                    "train_labels": "model_input_train_labels",
                    "validation_images": "model_input_validation",
                    "validation_labels": "model_input_validation_labels",
                    "feature_classifier": "params:feature_classifier",
                    "seed": "params:seed",
                },
                "fashion_classifier",
                name="train_fashion_classifier",
            )
        ],
        namespace="feature_classifier",
        prefix_datasets_with_namespace=False,
    )
