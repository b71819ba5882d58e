"""The `tf.distribute` strategy that training builds, compiles and fits the model under.

Keras 3's `model.fit` runs data-parallel on the TensorFlow backend when the model is created
and compiled in a strategy's scope: `MirroredStrategy` keeps one copy of the weights per
device, gives each a slice of the global batch and sums the gradients. A model trained so is
saved and loaded like any other, with no strategy.
"""

import contextlib
import logging
from typing import Any

import keras

from fashion_vae.errors import ProjectError
from fashion_vae.parameters import DistributionParameters

logger = logging.getLogger(__name__)


class DistributionError(ProjectError):
    """A distribution setting that this machine or backend cannot honour."""


def _device_key(name: str) -> tuple[str, int]:
    """(type, index) of a TensorFlow device name: "/gpu:1" and "/device:GPU:1" are the same."""
    import tensorflow as tf  # noqa: PLC0415 - TensorFlow only where a strategy is asked for

    spec = tf.DeviceSpec.from_string(name)
    return (spec.device_type or "").upper(), spec.device_index or 0


def distribution_strategy(settings: DistributionParameters) -> Any:
    """The strategy for `settings`; TensorFlow's default (one device) where there is none."""
    if keras.backend.backend() != "tensorflow":
        if settings.strategy == "mirrored":
            raise DistributionError(
                "parameter training.distribution.strategy is 'mirrored', which needs Keras' "
                f"TensorFlow backend; this run uses {keras.backend.backend()!r}"
            )
        return None
    import tensorflow as tf  # noqa: PLC0415

    if settings.strategy == "none":
        return tf.distribute.get_strategy()
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if settings.strategy == "auto":
        if len(gpus) < 2:
            return tf.distribute.get_strategy()
        return tf.distribute.MirroredStrategy(gpus)
    available = {
        _device_key(device.name): device.name for device in tf.config.list_logical_devices()
    }
    unknown = [name for name in settings.devices or () if _device_key(name) not in available]
    if unknown:
        raise DistributionError(
            f"parameter training.distribution.devices names {unknown}, which this machine does "
            f"not have; it has {sorted(available.values())}"
        )
    return tf.distribute.MirroredStrategy(settings.devices)


def replicas(strategy: Any) -> int:
    """How many copies of the model the strategy trains side by side."""
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def strategy_scope(strategy: Any) -> Any:
    """The strategy's scope, or a scope that does nothing (no strategy, another backend)."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()
