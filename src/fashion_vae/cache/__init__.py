"""Reuse what is already computed, and never reuse what is stale: see docs/guide.md, "Caching"."""

from .dask_runner import DaskClusterError, DaskRunner
from .manifest import ManifestDataset
from .runner import (
    MANIFEST_DATASET,
    REUSED,
    CacheMixin,
    CachingDaskRunner,
    CachingParallelRunner,
    CachingRunner,
    CachingThreadRunner,
    make_runner,
    manifest_path,
    with_cache,
)

__all__ = [
    "MANIFEST_DATASET",
    "REUSED",
    "DaskClusterError",
    "DaskRunner",
    "CacheMixin",
    "CachingDaskRunner",
    "CachingParallelRunner",
    "CachingRunner",
    "CachingThreadRunner",
    "ManifestDataset",
    "make_runner",
    "manifest_path",
    "with_cache",
]
