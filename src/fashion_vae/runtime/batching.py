"""Batches of in-memory arrays for Keras' `fit`, shared by every training node."""

import keras
import numpy as np
import tensorflow as tf

# Batches read ahead of the training step; the arrays are already in memory, so two suffice.
_PREFETCHED_BATCHES = 2


def array_batches(
    arrays: np.ndarray | tuple[np.ndarray, ...], batch_size: int, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """Batch arrays (one, or a tuple shuffled together), reshuffled each epoch with the seed."""
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle_seed is not None:
        length = int(dataset.cardinality())
        dataset = dataset.shuffle(length, seed=shuffle_seed, reshuffle_each_iteration=True)
    # tf.data's autotuner runs a background thread that each epoch's iterator waits for when it
    # is destroyed: measured here as a 0.65-1.0 s stall at about half of all epoch starts, for
    # training and validation alike. A fixed prefetch buffer needs no autotuner.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.batch(batch_size).prefetch(_PREFETCHED_BATCHES).with_options(options)


class EpochShuffledBatches(keras.callbacks.Callback):
    """Batches of an array for `fit`, in an order fixed by the seed and the epoch alone.

    tf.data's `reshuffle_each_iteration` draws a new order for every iterator, and Keras makes
    iterators that are no epoch: under a `tf.distribute` strategy it builds the model from one
    batch of a fresh iterator first, and a resumed run starts again from the first order. Then
    the epochs' orders would depend on the device count and on interruptions. As a callback of
    the same `fit`, this sets the epoch the dataset serves before each epoch's iterator exists.

    With `binarize`, each image of each epoch is a fresh draw of 0/1 pixels, each pixel 1 with
    the probability of its intensity ("dynamic binarization", as published likelihood results
    train), fixed by the seed, the epoch and the image's place in that epoch's order.
    """

    def __init__(
        self, array: np.ndarray, batch_size: int, seed: int, *, binarize: bool = False
    ) -> None:
        super().__init__()
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="shuffle_epoch")
        data = tf.convert_to_tensor(np.asarray(array))
        count = len(array)

        def epoch_order(_: tf.Tensor) -> tf.data.Dataset:
            key = tf.stack([tf.constant(seed, tf.int64), self._epoch.read_value()])
            order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), key)
            return tf.data.Dataset.from_tensor_slices(order)

        indices = tf.data.Dataset.from_tensors(0).flat_map(epoch_order)
        indices = indices.apply(tf.data.experimental.assert_cardinality(count))
        options = tf.data.Options()
        options.autotune.enabled = False  # see array_batches

        def images(index: tf.Tensor) -> tf.Tensor:
            batch = tf.gather(data, index)
            if not binarize:
                return batch
            # The first index of a batch is unique within its epoch's order: a key per batch.
            key = tf.stack([tf.constant(seed, tf.int64) + 1, self._epoch * count + index[0]])
            draws = tf.random.stateless_uniform(tf.shape(batch), key, dtype=batch.dtype)
            return tf.cast(draws < batch, batch.dtype)

        self.dataset = (
            indices.batch(batch_size)
            .map(images)
            .prefetch(_PREFETCHED_BATCHES)
            .with_options(options)
        )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch.assign(epoch)
