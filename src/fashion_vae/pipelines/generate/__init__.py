"""Draw new images from the stored model: prior or latent mixture, of one class if asked."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
