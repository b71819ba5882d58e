"""The cache manifest: a JSON file beside the outputs that records what each node wrote."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from kedro.io import AbstractDataset, DatasetError
from kedro.utils import find_kedro_project

from fashion_vae.datasets.atomic import write_atomically
from fashion_vae.outputs.stamped_digests import StampedDigests

from .fingerprint import file_sha256, text_sha256

FORMAT = 1
logger = logging.getLogger(__name__)


class Manifest:
    """Node records and file hashes, keyed by paths relative to the project, not by machine."""

    def __init__(self, path: Path, root: Path) -> None:
        """Reads the manifest at `path` (if any); file paths are stored relative to `root`."""
        self.path = path
        self.root = root
        data = _read(path)
        self.nodes: dict[str, dict[str, Any]] = data.get("nodes", {})
        self._files = StampedDigests(data.get("files", {}), file_sha256)
        # What this process changed (None: forgotten): all a save writes over the file's records.
        self._changed: dict[str, dict[str, Any] | None] = {}

    def record(self, name: str, record: dict[str, Any]) -> None:
        """Keep `record` for the node `name` (written at the next save)."""
        self.nodes[name] = self._changed[name] = record

    def forget(self, name: str) -> None:
        """Drop the node's record: what it vouched for is being overwritten."""
        self.nodes.pop(name, None)
        self._changed[name] = None

    def key(self, path: Path) -> str:
        """The portable name of `path`: POSIX and relative to the project root."""
        return Path(os.path.relpath(os.path.abspath(path), self.root)).as_posix()

    def content_hash(self, path: Path) -> str | None:
        """SHA-256 of a file, or of a directory's files and their names; None if it is missing."""
        if path.is_file():
            return self._file_hash(path)
        if not path.is_dir():
            return None
        files = sorted(p for p in path.rglob("*") if p.is_file())
        listing = "".join(
            f"{f.relative_to(path).as_posix()}\0{self._file_hash(f)}\n" for f in files
        )
        return "dir:" + text_sha256(listing)

    def _file_hash(self, path: Path) -> str:
        """The recorded hash while size and mtime match what was recorded, else a fresh one."""
        return self._files.digest(path, self.key(path))

    def save(self, prune: bool = False) -> None:
        """Writes this process's changes into the manifest file, atomically, keeping what other
        runs wrote there meanwhile (runs of disjoint nodes side by side); `prune` drops the
        hashes of files that are gone."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released on close, or when the process dies
            on_disk = _read(self.path) if self.path.exists() else {}
            nodes = on_disk.get("nodes", {})
            for name, record in self._changed.items():
                if record is None:
                    nodes.pop(name, None)
                else:
                    nodes[name] = record
            self.nodes = nodes
            entries = self._files.entries
            for key, entry in on_disk.get("files", {}).items():
                entries.setdefault(key, entry)
            if prune:
                for key in [key for key in entries if not (self.root / key).is_file()]:
                    del entries[key]
            text = json.dumps(
                {"format": FORMAT, "nodes": nodes, "files": entries}, indent=1, sort_keys=True
            )

            def write(out: BinaryIO) -> None:
                out.write(text.encode())

            write_atomically(fsspec.filesystem("file"), "file", str(self.path), write, {})


def _read(path: Path) -> dict[str, Any]:
    """The manifest's content; empty (so every node reruns) when absent, unreadable or old."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning(
            "Ignoring the unreadable cache manifest %s (%s): every node reruns", path, exc
        )
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        logger.warning("Ignoring cache manifest %s of another format: every node reruns", path)
        return {}
    return data


class ManifestDataset(AbstractDataset[Manifest, Manifest]):
    """The manifest as a catalog entry, so that a caching runner finds it from the catalog.

    `kedro run` builds its runner before the session has a context, so the runner cannot ask
    the context where the environment's outputs go; the catalog it is handed can say, e.g.

        cache_manifest:
          type: fashion_vae.cache.ManifestDataset
          filepath: ${globals:output_dir}/.cache_manifest.json

    Recorded paths are relative to the Kedro project that holds the manifest (the manifest's
    own folder if none does), as `make_runner` records them.
    """

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        """`filepath`: the manifest's file (Kedro makes a relative one relative to the project)."""
        self._path = Path(filepath)
        self.metadata = metadata

    def load(self) -> Manifest:
        """The manifest's records: empty when the file does not exist yet."""
        path = self._path.absolute()
        return Manifest(path, find_kedro_project(path.parent) or path.parent)

    def save(self, data: Manifest) -> None:
        """Refused: the runner saves the manifest it loaded itself, after every node it runs."""
        raise DatasetError(f"{type(self).__name__} is read-only: a caching runner writes it")

    def _exists(self) -> bool:
        return self._path.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path)}
