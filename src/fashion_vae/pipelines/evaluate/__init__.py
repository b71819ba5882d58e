"""Score a stored VAE on the test set: likelihood, reconstruction, latent, features, samples."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
