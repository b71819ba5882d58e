"""Wiring of the data_processing pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import add_channel_axis, ingest, normalize, split_validation


def create_pipeline(**kwargs) -> Pipeline:
    """Ingest, normalize, add the channel axis and split off a validation set."""
    return pipeline(
        [
            node(
                ingest,
                ["train_images_raw", "train_labels_raw", "params:data_processing.max_train"],
                ["train_images", "train_labels"],
                name="ingest_train",
            ),
            node(
                ingest,
                ["test_images_raw", "test_labels_raw", "params:data_processing.max_test"],
                ["test_images", "test_labels"],
                name="ingest_test",
            ),
            node(normalize, "train_images", "train_images_normalized", name="normalize_train"),
            node(normalize, "test_images", "test_images_normalized", name="normalize_test"),
            node(
                add_channel_axis,
                "train_images_normalized",
                "train_images_with_channel",
                name="add_channel_axis_train",
            ),
            node(
                add_channel_axis,
                "test_images_normalized",
                "model_input_test",
                name="add_channel_axis_test",
            ),
            node(
                split_validation,
                [
                    "train_images_with_channel",
                    "train_labels",
                    "params:data_processing.validation_size",
                    "params:seed",
                ],
                [
                    "model_input_train",
                    "model_input_train_labels",
                    "model_input_validation",
                    "model_input_validation_labels",
                ],
                name="split_validation",
            ),
        ]
    )
