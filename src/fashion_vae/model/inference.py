"""Batched inference with a stored model: shape checks, encoding, decoding.

Every pipeline that runs a model on many images uses these, so that batching and the checks
that name a mismatched model live in one place.
"""

import weakref
from typing import Any

import keras
import numpy as np
from scipy import special

from fashion_vae.errors import ModelMismatchError

from .cpu_speedups import InShards
from .vae import VAE

# Training images re-encoded to check that stored training codes are a model's own.
_CHECKED_CODES = 32
_CODE_TOLERANCE = 0.05


def check_images_fit(model: keras.Model, images: np.ndarray, model_name: str) -> None:
    """Raise ModelMismatchError naming both shapes unless `images` is N × the model's input."""
    expected = tuple(model.input_shape[1:])
    if tuple(images.shape[1:]) != expected or images.ndim != len(expected) + 1:
        raise ModelMismatchError(
            f"{model_name} expects images of shape (N, {', '.join(map(str, expected))}) but "
            f"the data has shape {tuple(images.shape)}; evaluate a model trained on this data"
        )


def check_vae_fits(vae: VAE, images: np.ndarray) -> None:
    """Check the VAE's encoder input and decoder output against the images."""
    check_images_fit(vae.encoder, images, "vae_model")
    output = tuple(vae.decoder.output_shape[1:])
    if output != tuple(images.shape[1:]):
        raise ModelMismatchError(
            f"vae_model decodes images of shape (N, {', '.join(map(str, output))}) but the "
            f"data has shape {tuple(images.shape)}"
        )


def predict_in_chunks(model: keras.Model, inputs: np.ndarray, batch_size: int) -> Any:
    """`model.predict(inputs)`, without the data pipeline `predict` builds at every call: one
    compiled step per chunk of at most `batch_size` rows (so memory stays bounded), outputs
    concatenated. A request of a few images then costs its arithmetic, not the set-up."""
    if len(inputs) == 0:
        return model.predict(inputs, batch_size=batch_size, verbose=0)
    chunks = [
        model.predict_on_batch(inputs[start : start + batch_size])
        for start in range(0, len(inputs), batch_size)
    ]
    return keras.tree.map_structure(lambda *parts: np.concatenate(parts), *chunks)


# Each model's sharded wrapper, made once: Keras compiles a model's predict step once per model.
_SHARDED: weakref.WeakKeyDictionary[keras.Model, dict[int, keras.Model]] = (
    weakref.WeakKeyDictionary()
)


def _sharded(model: keras.Model, shards: int) -> keras.Model:
    """`model` computing each batch in `shards` slices side by side (itself for one)."""
    if shards <= 1:
        return model
    wrappers = _SHARDED.setdefault(model, {})
    if shards not in wrappers:
        wrappers[shards] = InShards(model, shards)
    return wrappers[shards]


def encode_images(vae: VAE, images: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances (N × latent_dim, float32) of the images."""
    check_vae_fits(vae, images)
    encoder = _sharded(vae.encoder, vae.batch_shards)
    z_mean, z_log_var = predict_in_chunks(encoder, images, batch_size)
    return z_mean, z_log_var


def decode_logits(vae: VAE, z: np.ndarray, batch_size: int) -> np.ndarray:
    """The decoder's pixel logits of latent codes, batched (for likelihoods)."""
    return predict_in_chunks(_sharded(vae.decoder, vae.batch_shards), z, batch_size)


def decode_latents(vae: VAE, z: np.ndarray, batch_size: int) -> np.ndarray:
    """Pixel probabilities (float32) of latent codes, batched."""
    return special.expit(decode_logits(vae, z, batch_size)).astype(np.float32)


def prior_components(vae: VAE) -> tuple[np.ndarray, np.ndarray] | None:
    """The VampPrior's component means and log-variances (K × D, float64); None for N(0, I)."""
    components = vae.prior_components()
    if components is None:
        return None
    means, log_vars = components
    return (
        keras.ops.convert_to_numpy(means).astype(np.float64),
        keras.ops.convert_to_numpy(log_vars).astype(np.float64),
    )


def sample_prior_codes(vae: VAE, n: int, rng: np.random.Generator) -> np.ndarray:
    """n codes (float32) drawn from the VAE's prior: N(0, I), or a VampPrior component chosen
    uniformly, then its Gaussian."""
    noise = rng.standard_normal((n, vae.latent_dim), dtype=np.float32)
    components = prior_components(vae)
    if components is None:
        return noise
    means, log_vars = components
    chosen = rng.integers(len(means), size=n)
    return (means[chosen] + np.exp(0.5 * log_vars[chosen]) * noise).astype(np.float32)


def check_training_codes(
    vae: VAE, train_images: np.ndarray, train_posterior_mean: np.ndarray, batch_size: int
) -> None:
    """Raise ModelMismatchError unless the stored training codes are what this model gives."""
    n = min(_CHECKED_CODES, len(train_images))
    fresh, _ = encode_images(vae, np.asarray(train_images[:n]), batch_size)
    stored = np.asarray(train_posterior_mean[:n])
    if stored.shape != fresh.shape or np.max(np.abs(stored - fresh)) > _CODE_TOLERANCE * (
        1 + np.max(np.abs(fresh))
    ):
        raise ModelMismatchError(
            "train_posterior_mean was computed by another vae_model: run `kedro run "
            "--pipelines=latent_density` for this one (with the same --load-versions)"
        )
