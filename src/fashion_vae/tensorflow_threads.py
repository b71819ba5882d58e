"""TensorFlow's thread pools, set from the parameters before TensorFlow starts."""

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, PositiveInt

logger = logging.getLogger(__name__)


class TensorFlowThreads(BaseModel, title="tensorflow_threads"):
    """Threads per op (intra_op) and ops at a time (inter_op); None: TensorFlow's default."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    intra_op: PositiveInt | None = None
    inter_op: PositiveInt | None = None


def apply_tensorflow_threads(settings: TensorFlowThreads | dict[str, Any]) -> None:
    """Size TensorFlow's intra-op and inter-op pools (null: TensorFlow's default).

    TensorFlow fixes its pools when it runs its first op, so this must come first; where that
    has already happened (a notebook, a test process) the pools stay as they are, with a warning.
    """
    # No node reads these parameters, so Kedro does not validate them: the hook's caller does.
    settings = TensorFlowThreads.model_validate(settings)
    import tensorflow as tf  # noqa: PLC0415 - settings.py imports this; kedro viz need not load TF

    threading = tf.config.threading
    pools = {
        "intra_op": (
            threading.get_intra_op_parallelism_threads,
            threading.set_intra_op_parallelism_threads,
        ),
        "inter_op": (
            threading.get_inter_op_parallelism_threads,
            threading.set_inter_op_parallelism_threads,
        ),
    }
    for key, (get_threads, set_threads) in pools.items():
        threads = getattr(settings, key)
        if threads is None or get_threads() == threads:
            continue
        try:
            set_threads(threads)
        except RuntimeError:
            logger.warning(
                "tensorflow_threads.%s = %s not applied: TensorFlow is already running in this "
                "process, with its pools fixed",
                key,
                threads,
            )
