"""Nodes of the data_processing pipeline: the seed notebook's steps as pure functions."""

import numpy as np

from fashion_vae.errors import InvalidDataError
from fashion_vae.parameters import DataProcessingParameters

IMAGE_SIDE = 28
N_CLASSES = 10


def ingest(
    images: np.ndarray, labels: np.ndarray, max_count: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Check that images and labels agree, then keep the first `max_count` of them."""
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise InvalidDataError(
            f"images have shape {images.shape}; expected N×{IMAGE_SIDE}×{IMAGE_SIDE}"
        )
    if images.dtype != np.uint8:
        raise InvalidDataError(f"images have dtype {images.dtype}; expected uint8 pixels 0–255")
    if labels.ndim != 1:
        raise InvalidDataError(f"labels have shape {labels.shape}; expected one label per image")
    if len(images) != len(labels):
        raise InvalidDataError(
            f"{len(images)} images but {len(labels)} labels; expected equal counts"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise InvalidDataError(
            f"labels range from {labels.min()} to {labels.max()}; expected 0–{N_CLASSES - 1}"
        )
    return np.asarray(images[:max_count]), np.asarray(labels[:max_count], dtype=np.uint8)


def normalize(images: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1]."""
    return images.astype(np.float32) / np.float32(255)


def add_channel_axis(images: np.ndarray) -> np.ndarray:
    """Append the single grey channel Keras' convolutions expect: N×28×28 → N×28×28×1."""
    return images[..., np.newaxis]


def split_validation(
    images: np.ndarray, labels: np.ndarray, data_processing: DataProcessingParameters, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out a seeded random `validation_size` images: train images, labels, then validation."""
    validation_size = data_processing.validation_size
    if not 0 < validation_size < len(images):
        raise ValueError(
            f"data_processing.validation_size is {validation_size}; expected between 1 and "
            f"{len(images) - 1} for {len(images)} training images"
        )
    order = np.random.default_rng(seed).permutation(len(images))
    # Sorting each part keeps the on-disk order of the source, which reads memory maps sequentially.
    validation_index = np.sort(order[:validation_size])
    train_index = np.sort(order[validation_size:])
    return (
        images[train_index],
        labels[train_index],
        images[validation_index],
        labels[validation_index],
    )
