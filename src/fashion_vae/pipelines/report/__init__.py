"""Draw the stored model's figures and gather them, with the metrics, in one HTML page."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
