"""Train the VAE and store it, its history and its progress samples, versioned."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
