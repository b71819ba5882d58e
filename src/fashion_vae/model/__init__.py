"""The VAE model: layers, losses, builders and optimizer, registered for safe `.keras` loading."""

# Importing the package registers every class a saved model may name, the optimizer included.
from .optimizers import FusedAdam
from .vae import VAE, InShards, Sampler, build_vae, kl_divergence, reconstruction_loss

__all__ = [
    "VAE",
    "FusedAdam",
    "InShards",
    "Sampler",
    "build_vae",
    "kl_divergence",
    "reconstruction_loss",
]
