"""Train and evaluate one copy of the model per setting of `sweep.members`, then compare them."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
