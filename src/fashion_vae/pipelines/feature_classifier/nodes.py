"""Nodes of the feature_classifier pipeline: a small CNN trained once, used by `evaluate`."""

import logging
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

from fashion_vae.batching import array_batches
from fashion_vae.parameters import validate_feature_classifier_parameters

IMAGE_SHAPE = (28, 28, 1)
N_CLASSES = 10
# The evaluate pipeline reads the penultimate layer by this name.
FEATURES_LAYER = "features"

logger = logging.getLogger(__name__)


def build_classifier(
    conv_filters: Sequence[int], dense_units: int, dropout: float, kernel_size: int = 3
) -> keras.Model:
    """Build the CNN: conv + max-pool blocks, a dense `features` layer, then class logits."""
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = inputs
    for index, n_filters in enumerate(conv_filters):
        x = layers.Conv2D(
            n_filters, kernel_size, padding="same", activation="relu", name=f"conv_{index}"
        )(x)
        x = layers.MaxPooling2D(name=f"pool_{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    features = layers.Dense(dense_units, activation="relu", name=FEATURES_LAYER)(x)
    logits = layers.Dense(N_CLASSES, name="logits")(features)
    return keras.Model(inputs, logits, name="fashion_classifier")


def _labelled(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images and integer labels as in-memory arrays, for `array_batches`."""
    return np.asarray(images), np.asarray(labels, dtype=np.int32)


def train_classifier(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    validation_images: np.ndarray,
    validation_labels: np.ndarray,
    *,
    feature_classifier: dict[str, Any],
    seed: int,
) -> keras.Model:
    """Train the classifier with Adam on cross-entropy; log its validation accuracy and time."""
    validate_feature_classifier_parameters(feature_classifier)
    if len(train_images) != len(train_labels):
        raise ValueError(
            f"{len(train_images)} training images but {len(train_labels)} labels; "
            "expected equal counts"
        )
    keras.utils.set_random_seed(seed)
    model = build_classifier(
        feature_classifier["conv_filters"],
        feature_classifier["dense_units"],
        feature_classifier["dropout"],
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=feature_classifier["learning_rate"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batch_size = feature_classifier["batch_size"]
    started = time.perf_counter()
    history = model.fit(
        array_batches(_labelled(train_images, train_labels), batch_size, shuffle_seed=seed),
        validation_data=array_batches(_labelled(validation_images, validation_labels), batch_size),
        epochs=feature_classifier["epochs"],
        shuffle=False,  # array_batches shuffles, with the seed
        verbose=feature_classifier["verbose"],
    )
    logger.info(
        "fashion_classifier: %d epochs in %.1f s, validation accuracy %.4f",
        feature_classifier["epochs"],
        time.perf_counter() - started,
        history.history["val_accuracy"][-1],
    )
    return model
