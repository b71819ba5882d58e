"""Where a Kedro environment of the project writes: `<project>/<globals output_dir>`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing Kedro's context configures Kedro's logging; a lock needs neither
    from kedro.framework.context import KedroContext

# Beside the environment's outputs: the decompressed digests of the raw files, by size and mtime.
RAW_DIGESTS_NAME = ".raw_sha256.json"
# Beside the environment's outputs: the versions the last run pinned, which `kedro prune` keeps.
LOAD_VERSIONS_NAME = ".load_versions.json"


def output_dir(context: KedroContext) -> Path:
    """`<project>/<globals output_dir>` (default `data`): where this environment writes."""
    return Path(context.project_path) / context.config_loader["globals"].get("output_dir", "data")
