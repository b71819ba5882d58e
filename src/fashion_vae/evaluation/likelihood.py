"""Importance-sampling estimates of log p(x): the IWAE bound and the ELBO from the same draws.

For an image x and K draws z_k from the encoder's posterior q(z|x), the log-weights
w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x) give the ELBO as their mean and the IWAE bound
log (1/K) Σ exp(w_k), which tends to log p(x) as K grows (Burda et al., 2016). With a ladder,
each weight also holds its second latent's log p(z₂|z) − log q(z₂|x, z) for one draw of z₂.

The weights are streamed: draws come in chunks of `DRAWS_PER_CHUNK` for a batch of images, and
only a running log-sum-exp and a running sum are kept per image, so memory does not grow with
K (the literature's K is 5,000).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import keras
import numpy as np

from fashion_vae.model import VAE, InShards, log_normal, log_prior, prior_components

logger = logging.getLogger(__name__)
# Draws scored at once for a batch of images: the memory held is this × the batch's images.
DRAWS_PER_CHUNK = 250
# The test images' random sample, when fewer than all are scored, is drawn from this stream of
# `binarize_seed`, so that every model is scored on the same images.
_SAMPLE_STREAM = 1


def likelihood_scorer(vae: VAE) -> keras.Model:
    """A model (images, z[, the ladder's context]) → per image log p(x|z) and, with a ladder,
    the log-ratio of its second latent's one draw (`VAE.log_likelihood`)."""
    return InShards(lambda inputs: vae.log_likelihood(*inputs), vae.batch_shards)


def importance_log_weights(
    vae: VAE,
    scorer: keras.Model,
    images: np.ndarray,
    z_mean: np.ndarray,
    z_log_var: np.ndarray,
    *,
    n_draws: int,
    rng: np.random.Generator,
    prior: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """K × B log p(x|z_k) and log-weights log p(x|z_k) + log p(z_k) − log q(z_k|x), the
    prior's `prior_components` given (with a ladder, log p(x|z_k, z₂) and its z₂'s log-ratio
    added to the weight, the images encoded once for all K)."""
    context = vae.ladder_context(images)
    ladder = [] if context is None else [keras.ops.convert_to_numpy(context)]
    std = np.exp(0.5 * z_log_var)
    z_mean64, z_log_var64 = z_mean.astype(np.float64), z_log_var.astype(np.float64)
    log_likelihood = np.empty((n_draws, len(images)))
    log_weights = np.empty((n_draws, len(images)))
    for k in range(n_draws):
        z = z_mean + std * rng.standard_normal(z_mean.shape, dtype=np.float32)
        log_likelihood[k], lower_log_ratio = scorer.predict_on_batch([images, z, *ladder])
        z64 = z.astype(np.float64)
        log_ratio = log_prior(z64, prior) - log_normal(z64, z_mean64, z_log_var64)
        log_weights[k] = log_likelihood[k] + lower_log_ratio + keras.ops.convert_to_numpy(log_ratio)
    return log_likelihood, log_weights


class StreamedBounds:
    """The IWAE bound and the ELBO per image, from chunks of log-weights added one at a time."""

    def __init__(self, n_images: int) -> None:
        self.draws = 0
        self._max = np.full(n_images, -np.inf)
        self._scaled_sum = np.zeros(n_images)  # Σ exp(w_k − max)
        self._sum = np.zeros(n_images)  # Σ w_k

    def add(self, log_weights: np.ndarray) -> None:
        """Add K' × B log-weights of K' more draws."""
        new_max = np.maximum(self._max, log_weights.max(axis=0))
        self._scaled_sum = self._scaled_sum * np.exp(self._max - new_max) + np.exp(
            log_weights - new_max
        ).sum(axis=0)
        self._max = new_max
        self._sum += log_weights.sum(axis=0)
        self.draws += len(log_weights)

    @property
    def iwae(self) -> np.ndarray:
        """log (1/K) Σ exp(w_k) per image."""
        return self._max + np.log(self._scaled_sum) - np.log(self.draws)

    @property
    def elbo(self) -> np.ndarray:
        """The mean log-weight per image."""
        return self._sum / self.draws


def binarized_test_sample(
    images: np.ndarray, n_images: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every image binarized once with `seed` (each pixel 1 with the probability of its
    intensity), and the sorted indices of the `n_images` scored: all of them, or a random sample
    fixed by `seed`. Returns (indices, their binarized images)."""
    binarized = binarize(images, seed)
    if n_images >= len(images):
        return np.arange(len(images)), binarized
    rng = np.random.default_rng((seed, _SAMPLE_STREAM))
    indices = np.sort(rng.choice(len(images), n_images, replace=False))
    return indices, binarized[indices]


def binarize(images: np.ndarray, seed: int) -> np.ndarray:
    """Each pixel drawn once as a Bernoulli of its intensity (0 or 1, float32), seeded."""
    draws = np.random.default_rng(seed).random(np.shape(images), dtype=np.float32)
    return (draws < np.asarray(images)).astype(np.float32)


def log_weight_batches(
    vae: VAE,
    images: np.ndarray,
    posterior: tuple[np.ndarray, np.ndarray],
    *,
    draws: int,
    batch_size: int,
    rng: np.random.Generator,
    chunk: int | None = None,
) -> Iterator[tuple[slice, Iterator[tuple[np.ndarray, np.ndarray]]]]:
    """For each batch of images, its slice and its chunks of at most `chunk` draws (default
    `DRAWS_PER_CHUNK`), each (log p(x|z_k), log-weights) as `importance_log_weights` gives them.
    A batch's chunks are drawn as they are consumed, before the next batch's."""
    z_mean, z_log_var = posterior
    scorer, prior = likelihood_scorer(vae), prior_components(vae)
    chunk = chunk or DRAWS_PER_CHUNK
    for start in range(0, len(images), batch_size):
        batch = slice(start, min(start + batch_size, len(images)))
        inputs = (np.asarray(images[batch]), z_mean[batch], z_log_var[batch])
        yield (
            batch,
            (
                importance_log_weights(
                    vae, scorer, *inputs, n_draws=min(chunk, draws - first), rng=rng, prior=prior
                )
                for first in range(0, draws, chunk)
            ),
        )


def importance_sampled_bounds(
    vae: VAE,
    images: np.ndarray,
    posterior: tuple[np.ndarray, np.ndarray],
    *,
    draws: int,
    batch_size: int,
    rng: np.random.Generator,
    progress: Callable[[int, int, int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The IWAE bound and the ELBO of each image from `draws` posterior draws, batched over
    images and draws in bounded memory; `progress(first_image, last_image, draws_done, draws)`
    is called after each chunk."""
    iwae, elbo = np.empty(len(images)), np.empty(len(images))
    batches = log_weight_batches(
        vae, images, posterior, draws=draws, batch_size=batch_size, rng=rng
    )
    for batch, chunks in batches:
        bounds = StreamedBounds(batch.stop - batch.start)
        for _, log_weights in chunks:
            bounds.add(log_weights)
            if progress is not None:
                progress(batch.start + 1, batch.stop, bounds.draws, draws)
        iwae[batch], elbo[batch] = bounds.iwae, bounds.elbo
    return iwae, elbo


def mean_and_error(values: np.ndarray) -> tuple[float, float | None]:
    """Mean and its standard error (None for a single value: JSON has no NaN)."""
    if len(values) < 2:
        return float(np.mean(values)), None
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))


def log_progress(name: str, n_images: int) -> Callable[[int, int, int, int], None]:
    """A `progress` callback that logs "<name>: images a to b of n, k of K draws"."""

    def progress(first: int, last: int, done: int, draws: int) -> None:
        logger.info(
            "%s: images %d to %d of %d, %d of %d draws", name, first, last, n_images, done, draws
        )

    return progress
