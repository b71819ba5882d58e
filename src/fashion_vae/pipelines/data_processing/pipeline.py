"""Wiring of the data_processing pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import add_channel_axis, ingest, normalize, split_validation


def create_split_pipeline() -> Pipeline:
    """One split's steps: ingest raw images and labels, normalize, add the channel axis."""
    return pipeline(
        [
            node(
                ingest,
                ["images_raw", "labels_raw", "params:max_count"],
                ["images", "labels"],
                name="ingest",
            ),
            # Kept in memory: only the uint8 arrays and the model inputs are persisted.
            node(normalize, "images", "images_normalized", name="normalize"),
            node(add_channel_axis, "images_normalized", "model_input", name="add_channel_axis"),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Prepare the train and test splits alike, then hold out a validation set."""
    splits = [
        pipeline(
            create_split_pipeline(),
            namespace=f"data_processing.{split}",
            inputs={"images_raw": f"{split}_images_raw", "labels_raw": f"{split}_labels_raw"},
            outputs={
                "images": f"{split}_images",
                "labels": f"{split}_labels",
                "model_input": model_input,
            },
            parameters={"params:max_count": f"params:data_processing.max_{split}"},
        )
        # The whole training set is split below; the test set is a model input as it is.
        for split, model_input in (
            ("train", "train_images_with_channel"),
            ("test", "model_input_test"),
        )
    ]
    validation_split = node(
        split_validation,
        ["train_images_with_channel", "train_labels", "params:data_processing", "params:seed"],
        [
            "model_input_train",
            "model_input_train_labels",
            "model_input_validation",
            "model_input_validation_labels",
        ],
        name="split_validation",
    )
    return pipeline(
        [
            *splits,
            pipeline(
                [validation_split],
                namespace="data_processing",
                prefix_datasets_with_namespace=False,
            ),
        ],
    )
