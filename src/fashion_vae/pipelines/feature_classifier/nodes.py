"""Nodes of the feature_classifier pipeline: a small CNN trained once, used by `evaluate`."""

import logging
import time

import keras
import numpy as np

from fashion_vae.model import build_classifier
from fashion_vae.parameters import FeatureClassifierParameters
from fashion_vae.runtime.batching import array_batches
from fashion_vae.runtime.terminal import keras_verbosity

logger = logging.getLogger(__name__)


def _labelled(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images and integer labels as in-memory arrays, for `array_batches`."""
    return np.asarray(images), np.asarray(labels, dtype=np.int32)


def train_classifier(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    validation_images: np.ndarray,
    validation_labels: np.ndarray,
    *,
    feature_classifier: FeatureClassifierParameters,
    seed: int,
) -> keras.Model:
    """Train the classifier with Adam on cross-entropy; log its validation accuracy and time."""
    if len(train_images) != len(train_labels):
        raise ValueError(
            f"{len(train_images)} training images but {len(train_labels)} labels; "
            "expected equal counts"
        )
    keras.utils.set_random_seed(seed)
    model = build_classifier(
        feature_classifier.conv_filters,
        feature_classifier.dense_units,
        feature_classifier.dropout,
        seed=seed,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=feature_classifier.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batch_size = feature_classifier.batch_size
    started = time.perf_counter()
    history = model.fit(
        array_batches(_labelled(train_images, train_labels), batch_size, shuffle_seed=seed),
        validation_data=array_batches(_labelled(validation_images, validation_labels), batch_size),
        epochs=feature_classifier.epochs,
        shuffle=False,  # array_batches shuffles, with the seed
        verbose=keras_verbosity(feature_classifier.verbose),
    )
    logger.info(
        "fashion_classifier: %d epochs in %.1f s, validation accuracy %.4f",
        feature_classifier.epochs,
        time.perf_counter() - started,
        history.history["val_accuracy"][-1],
    )
    return model
