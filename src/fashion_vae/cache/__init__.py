"""Reuse what is already computed, and never reuse what is stale: see README, "Caching"."""

from .runner import REUSED, CacheMixin, CachingRunner, make_runner, manifest_path, with_cache

__all__ = [
    "REUSED",
    "CacheMixin",
    "CachingRunner",
    "make_runner",
    "manifest_path",
    "with_cache",
]
