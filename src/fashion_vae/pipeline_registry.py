"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines run only when asked for by name: they use a trained model, encode reads a folder
# the user names, and sweep trains a model per member, so `kedro run` alone must not need them.
ON_DEMAND = ("generate", "encode", "sweep")


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline under `pipelines/`; `__default__` runs all but the on-demand ones."""
    # A pipeline that fails to import is an error, not a warning and a smaller `kedro run`.
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        pipeline for name, pipeline in pipelines.items() if name not in ON_DEMAND
    )
    return pipelines
