"""Reuse what is already computed, and never reuse what is stale: see README, "Caching"."""

from .manifest import ManifestDataset
from .runner import (
    MANIFEST_DATASET,
    REUSED,
    CacheMixin,
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
    "CacheMixin",
    "CachingParallelRunner",
    "CachingRunner",
    "CachingThreadRunner",
    "ManifestDataset",
    "make_runner",
    "manifest_path",
    "with_cache",
]
