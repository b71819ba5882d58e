"""Kedro datasets' protected members, which the project needs, fenced in one module.

Written against Kedro 1.7 and kedro-datasets 9.6. Kedro has no public API for "the local file
a dataset reads": the run's checks, its error messages, the cache, `kedro prune` and MLflow's
artifacts all need it, so these helpers read what `AbstractVersionedDataset` and every file
dataset of kedro-datasets and of this project share (`_describe()`, `_protocol`, `_filepath`,
`_version`, `_get_load_path()`, `_EPHEMERAL`). Nothing else in the project names them, and
tests/datasets/test_kedro_api.py checks each against the installed Kedro and kedro-datasets,
so that an upgrade that changes them fails there, loudly, not in a run.
"""

from __future__ import annotations

import os
from pathlib import Path

from kedro.io import AbstractDataset
from kedro.io.core import AbstractVersionedDataset, VersionNotFoundError


def described_location(dataset: AbstractDataset | None, default: str) -> str:
    """The file or folder a dataset describes itself by; `default` for one without a file."""
    if dataset is None:
        return default
    return str(dataset._describe().get("filepath", default))


def is_local_file(dataset: AbstractDataset | None) -> bool:
    """Whether `dataset` is a local file or folder (not kept in memory)."""
    return (
        dataset is not None
        and not getattr(dataset, "_EPHEMERAL", False)
        and getattr(dataset, "_protocol", None) == "file"
        and hasattr(dataset, "_filepath")
    )


def is_versioned(dataset: AbstractDataset | None) -> bool:
    """Whether `dataset` has versioning enabled (`versioned: true` in the catalog)."""
    return isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None


def version_folder(dataset: AbstractDataset | None) -> Path | None:
    """The absolute `<filepath>` folder of a local versioned dataset's versions; else None."""
    if not is_versioned(dataset) or getattr(dataset, "_protocol", None) != "file":
        return None
    return Path(os.path.abspath(dataset._filepath))  # type: ignore[union-attr]


def load_path(dataset: AbstractDataset) -> Path | None:
    """The local path a load of `dataset` reads (its resolved version); None if none exists."""
    if not isinstance(dataset, AbstractVersionedDataset):
        return Path(dataset._filepath)  # type: ignore[attr-defined]
    try:
        return Path(dataset._get_load_path())
    except VersionNotFoundError:
        return None
