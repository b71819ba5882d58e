"""A stored model, set to compute as fast as this machine allows.

A model trained where bfloat16 is native stores `mixed_bfloat16` layers; on a CPU that
emulates bfloat16 they would run several times slower than float32. Its weights are float32
either way, so such layers compute in float32 here instead (never the other way: a float32
model is not rounded down). A VAE's batch split is a speed choice too: it becomes this
machine's (`fashion_vae.runtime.hardware`). Both are what `auto` resolves to for training.
"""

import logging

import keras

from fashion_vae.runtime import hardware

from .vae import VAE

logger = logging.getLogger(__name__)


def _layers(model: keras.Layer) -> list[keras.Layer]:
    """Every layer inside `model`, nested models' included."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_layers(layer))
    return found


def adapt_to_this_machine(model: keras.Model) -> keras.Model:
    """`model`, computing in float32 where bfloat16 is not native here, with this machine's
    batch split if it is a VAE."""
    if hardware.dtype_policy(hardware.AUTO).value == hardware.FLOAT32:
        emulated = [
            layer for layer in _layers(model) if layer.dtype_policy.name == hardware.MIXED_BFLOAT16
        ]
        for layer in emulated:
            layer.dtype_policy = hardware.FLOAT32
        if emulated:
            logger.info(
                "%s: %d mixed_bfloat16 layers compute in float32 (no native bfloat16 here)",
                model.name,
                len(emulated),
            )
    if isinstance(model, VAE):
        model.batch_shards = hardware.batch_shards(hardware.AUTO).value
    return model
