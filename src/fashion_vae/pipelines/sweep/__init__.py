"""Train and evaluate one copy of the model per setting of `sweep.members`, then compare them.

`members` (the members' parameters, read by the project's settings) imports nothing heavy;
the pipeline, which imports the training and evaluation nodes, is imported when Kedro asks.
"""

from typing import Any

from kedro.pipeline import Pipeline


def create_pipeline(**kwargs: Any) -> Pipeline:
    """The sweep's pipeline (see `pipeline.py`)."""
    from .pipeline import create_pipeline as sweep_pipeline  # noqa: PLC0415

    return sweep_pipeline(**kwargs)


__all__ = ["create_pipeline"]
