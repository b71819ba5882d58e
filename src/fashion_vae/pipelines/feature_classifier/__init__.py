"""Train a small Fashion-MNIST classifier CNN whose features score the VAE's samples."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
