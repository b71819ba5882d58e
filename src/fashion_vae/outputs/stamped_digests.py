"""Digests of files, kept while a file's size and modification time are unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


class StampedDigests:
    """Digests by key, each valid while its file's size and mtime are those recorded with it.

    `entries` is the caller's mapping (stored in the caller's own file), updated in place.
    """

    def __init__(self, entries: dict[str, dict[str, Any]], digest: Callable[[Path], str]) -> None:
        self.entries = entries
        self._digest = digest
        self.changed = False

    def digest(self, path: Path, key: str) -> str:
        """The recorded digest of `path` while its stamp matches, else a fresh one, recorded."""
        # Stat before reading: a write during hashing then changes the mtime and forces a rehash.
        stat = path.stat()
        entry = self.entries.get(key) or {}
        if (entry.get("size"), entry.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            return str(entry["sha256"])
        digest = self._digest(path)
        self.entries[key] = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        self.changed = True
        return digest
