"""The VAE's building blocks: seeded initial weights, the reparameterized sampler, and the
log-densities and losses of its Gaussians and Bernoullis, in Keras 3's backend-agnostic API."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from .replicas import batch_slice

SERIALIZATION_PACKAGE = "fashion_vae"
_LOG_2PI = math.log(2.0 * math.pi)


def initializer_seeds(seed: int | None, part: str) -> Iterator[int | None]:
    """Seeds for the initial weights of one part of the model, derived from the model's seed.

    Keras draws the seed of an unseeded initializer from Python's global `random`, which other
    threads of the process (a Dask worker's, a server's) draw from too: with explicit seeds the
    initial weights depend on the model's seed alone. None (no seed): Keras draws them.
    """
    if seed is None:
        yield from itertools.repeat(None)
    sequence = np.random.SeedSequence([seed, *part.encode()])
    while True:
        yield int(sequence.spawn(1)[0].generate_state(1)[0])


def glorot(seeds: Iterator[int | None]) -> keras.initializers.Initializer:
    """Keras' default kernel initializer, with the next seed."""
    return keras.initializers.GlorotUniform(seed=next(seeds))


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class Sampler(layers.Layer):
    """Draws z = mean + exp(log_var / 2) * eps (the reparameterization trick), seeded.

    Under data-parallel training every replica draws the noise of the whole global batch from
    the same seed and keeps its own rows, so each image gets the noise it would get on one
    device and a run's numbers do not depend on the device count.
    """

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, z_mean: Any, z_log_var: Any) -> Any:
        rows = ops.shape(z_mean)[0]
        where = batch_slice(rows)
        if where.replicas == 1:
            epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        else:
            every = keras.random.normal(
                (where.global_size, ops.shape(z_mean)[1]), seed=self.seed_generator
            )
            epsilon = ops.slice(every, (where.start, 0), (rows, ops.shape(z_mean)[1]))
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


def reconstruction_loss(images: Any, logits: Any) -> Any:
    """Bernoulli negative log-likelihood per image in nats: BCE from logits summed over pixels."""
    pixel_losses = ops.binary_crossentropy(images, logits, from_logits=True)
    return ops.sum(pixel_losses, axis=tuple(range(1, len(pixel_losses.shape))))


def kl_divergence(z_mean: Any, z_log_var: Any) -> Any:
    """Analytic KL(q(z|x) || N(0, I)) per image in nats."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)


def log_normal(z: Any, mean: Any, log_var: Any) -> Any:
    """Log density of diagonal Gaussians, summed over the last axis (leading axes broadcast)."""
    # exp(-log_var) rather than dividing by exp(log_var): no overflow for very negative log_var.
    return -0.5 * ops.sum(_LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)


def log_prior(z: Any, components: tuple[Any, Any] | None) -> Any:
    """log p(z) per code: N(0, I) without components, else the equal mixture of the diagonal
    Gaussians `components` = (K × D means, K × D log-variances)."""
    if components is None:
        return -0.5 * ops.sum(_LOG_2PI + ops.square(z), axis=-1)
    means, log_vars = components
    per_component = log_normal(z[:, None, :], means[None], log_vars[None])
    return ops.logsumexp(per_component, axis=1) - math.log(means.shape[0])
