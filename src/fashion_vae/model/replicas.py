"""Where a computation stands in data-parallel training: its rows of the global batch.

Under a `tf.distribute` strategy (TensorFlow backend) each replica computes consecutive rows
of the global batch; elsewhere (one device, or another Keras backend) one replica has them all.
The model asks only this, so that the rest of its code stays backend-agnostic.
"""

from typing import Any, NamedTuple

import keras
from keras import ops


class BatchSlice(NamedTuple):
    """This replica's rows of the global batch: the first row's index, and the global size."""

    start: Any
    global_size: Any
    replicas: int


def batch_slice(local_size: Any) -> BatchSlice:
    """Where this replica's `local_size` rows start in the global batch, and its size."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415 - only the TensorFlow backend has tf.distribute

        context = tf.distribute.get_replica_context()
        # None in the cross-replica context (callbacks, saving): the model sees whole batches.
        if context is not None and context.num_replicas_in_sync > 1:
            sizes = context.all_gather(ops.reshape(ops.cast(local_size, "int32"), (1,)), axis=0)
            replica = context.replica_id_in_sync_group
            return BatchSlice(
                ops.sum(sizes[:replica]), ops.sum(sizes), context.num_replicas_in_sync
            )
    return BatchSlice(0, local_size, 1)
