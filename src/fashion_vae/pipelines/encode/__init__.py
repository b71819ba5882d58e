"""Put your own images through the stored model: codes, reconstruction error, nearest class."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
