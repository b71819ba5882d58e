"""The VAE model: layers, losses and builders, registered for safe `.keras` loading."""

from .vae import VAE, Sampler, build_vae, kl_divergence, reconstruction_loss

__all__ = ["VAE", "Sampler", "build_vae", "kl_divergence", "reconstruction_loss"]
