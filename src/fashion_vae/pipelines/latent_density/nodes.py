"""Nodes of the latent_density pipeline: the training posterior means and their mixtures."""

from typing import Any

import numpy as np

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.model import VAE, encode_images
from fashion_vae.model.latent_density import fit_latent_density, vae_digest
from fashion_vae.parameters import LatentDensityParameters

# The fits' random stream under the one seed, apart from every other node's.
_FIT_STREAM = 10


def encode_training_set(
    vae: VAE, train_images: np.ndarray, latent_density: LatentDensityParameters
) -> np.ndarray:
    """Posterior means of the training images (N × latent_dim, float32)."""
    z_mean, _ = encode_images(vae, train_images, latent_density.batch_size)
    return z_mean


def fit_density(
    vae: VAE,
    train_posterior_mean: np.ndarray,
    train_labels: np.ndarray,
    latent_density: LatentDensityParameters,
    seed: int,
) -> dict[str, Any]:
    """Fit the mixture of all training codes and one per class; return them as plain numbers."""
    if train_posterior_mean.shape[1] != vae.latent_dim:
        raise ValueError(
            f"train_posterior_mean has {train_posterior_mean.shape[1]} dimensions but vae_model's "
            f"latent space has {vae.latent_dim}: run `kedro run --pipelines=latent_density` "
            "with the same --load-versions"
        )
    density = fit_latent_density(
        np.asarray(train_posterior_mean),
        np.asarray(train_labels),
        CLASS_NAMES,
        n_components=latent_density.n_components,
        class_components=latent_density.class_components,
        covariance_type=latent_density.covariance_type,
        activity_threshold=latent_density.activity_threshold,
        max_iter=latent_density.max_iter,
        threads=latent_density.threads,
        rng=np.random.default_rng((seed, _FIT_STREAM)),
        model_digest=vae_digest(vae),
    )
    return density.to_json()
