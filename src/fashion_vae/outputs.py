"""Where a Kedro environment of the project writes: `<project>/<globals output_dir>`."""

from pathlib import Path

from kedro.framework.context import KedroContext


def output_dir(context: KedroContext) -> Path:
    """`<project>/<globals output_dir>` (default `data`): where this environment writes."""
    return Path(context.project_path) / context.config_loader["globals"].get("output_dir", "data")
