"""Fit a latent density to the stored VAE's training codes: what the mixture sampler draws from."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
