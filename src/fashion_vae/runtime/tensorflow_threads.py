"""TensorFlow's thread pools, sized from the parameters (or the cores) before TensorFlow starts."""

import logging
import os
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from fashion_vae.runtime import hardware

logger = logging.getLogger(__name__)
# TensorFlow reads these when it creates its pools, so a run that never imports TensorFlow
# (data processing alone, say) sizes them without paying for the import.
ENVIRONMENT = {"intra_op": "TF_NUM_INTRAOP_THREADS", "inter_op": "TF_NUM_INTEROP_THREADS"}

Threads = PositiveInt | Literal["auto"] | None


class TensorFlowThreads(BaseModel, title="tensorflow_threads"):
    """Threads per op (intra_op) and ops at a time (inter_op); "auto": from the cores; None:
    TensorFlow's default (one thread per core in each)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    intra_op: Threads = Field(
        description="threads per op; auto: sized from the cores this process may use for "
        "batch_shards' slices (each op on half the cores on 2+); null: TensorFlow's default"
    )
    inter_op: Threads = Field(
        description="ops at a time; auto: as many as batch_shards' slices (2 on 2+ cores); "
        "null: TensorFlow's default"
    )


def apply_tensorflow_threads(settings: TensorFlowThreads | dict[str, Any]) -> None:
    """Size TensorFlow's intra-op and inter-op pools, logging what "auto" chose.

    This sets the environment variables TensorFlow reads when it starts (inherited by worker
    processes too) and, where TensorFlow is imported already, its `tf.config.threading`
    setters. TensorFlow fixes its pools when it runs its first op: where that has already
    happened (a notebook, a test process) the pools stay as they are, with a warning.
    """
    # No node reads these parameters, so Kedro does not validate them: the hook's caller does.
    settings = TensorFlowThreads.model_validate(settings)
    intra_op, inter_op = hardware.tensorflow_threads(settings.intra_op, settings.inter_op)
    chosen = {"intra_op": intra_op, "inter_op": inter_op}
    wanted = {ENVIRONMENT[key]: choice.value for key, choice in chosen.items()}
    if all(os.environ.get(name) == _text(value) for name, value in wanted.items()):
        return  # this process is sized already (hooks call this before every node)
    for name, value in wanted.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(value)
    if "tensorflow" in sys.modules:
        _set_running_pools(chosen)
    logger.info(
        "TensorFlow threads: %s",
        "; ".join(choice.describe(f"tensorflow_threads.{key}") for key, choice in chosen.items()),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _set_running_pools(chosen: dict[str, hardware.Choice]) -> None:
    """Size the pools of an imported TensorFlow, unless it has started them already."""
    import tensorflow as tf  # noqa: PLC0415 - imported already by whoever asked

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
        threads = chosen[key].value
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
