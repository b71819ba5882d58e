"""Turn the raw Fashion-MNIST IDX files into validated, normalized model inputs."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
