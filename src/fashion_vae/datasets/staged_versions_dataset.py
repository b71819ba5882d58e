"""``StagedVersionsDataset``: any file dataset, whose versioned local saves appear whole."""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
from collections.abc import Callable, Iterator
from copy import deepcopy
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    PROTOCOL_DELIMITER,
    AbstractDataset,
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)


class StagedVersionsDataset(AbstractVersionedDataset[Any, Any]):
    """Wraps another dataset, as Kedro's ``CachedDataset`` does, and publishes each versioned
    save on the local filesystem as a whole new version, or not at all.

    Kedro saves version ``<v>`` of ``<filepath>`` to ``<filepath>/<v>/<name>`` and loads the
    newest ``<filepath>/*/<name>`` that exists. kedro-datasets' types write there directly, so
    a save that fails or is killed midway leaves a half-written newest version, which the next
    run loads. Here the wrapped dataset writes to ``<parent>/.<name>.saving/<v>/<name>``, a
    folder the pattern never matches, and the whole ``<v>`` folder then moves into
    ``<filepath>/`` with one ``os.rename``, atomic on one filesystem. A save that raises
    removes its staged folder; one that is killed leaves it behind, unseen by loads. Loads,
    unversioned saves and other filesystems are the wrapped dataset's own. kedro-viz previews
    it as it previews the wrapped type.

    Example catalog entry (the wrapped ``dataset`` takes any of its type's arguments):

    ```yaml
    metrics:
      type: fashion_vae.datasets.StagedVersionsDataset
      versioned: true
      dataset:
        type: json.JSONDataset
        filepath: data/08_reporting/metrics.json
    ```
    """

    def __init__(
        self,
        *,
        dataset: dict[str, Any],
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the wrapper; ``dataset`` is the wrapped one's catalog entry, with filepath."""
        config = deepcopy(dataset)
        if "filepath" not in config:
            raise DatasetError("StagedVersionsDataset wraps a dataset with a 'filepath'")
        if "versioned" in config:
            raise DatasetError(
                "put 'versioned' on the StagedVersionsDataset, not on the dataset it wraps"
            )
        protocol, path = get_protocol_and_path(str(config["filepath"]), version)
        fs_args = {
            key: value
            for key, value in (config.get("fs_args") or {}).items()
            if not key.startswith("open_args_")
        }
        self._fs = fsspec.filesystem(protocol, **(config.get("credentials") or {}), **fs_args)
        self._protocol = protocol
        self._config = config
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )
        self._dataset = self._dataset_at(self._filepath)  # also checks the config at once

    def _dataset_at(self, path: PurePosixPath | Path) -> AbstractDataset:
        """The wrapped dataset, unversioned, reading and writing the file at ``path``."""
        location = (
            str(path) if self._protocol == "file" else f"{self._protocol}{PROTOCOL_DELIMITER}{path}"
        )
        return AbstractDataset.from_config(location, {**self._config, "filepath": location})

    def _describe(self) -> dict[str, Any]:
        """Describes the dataset for ``repr`` and logs."""
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "version": self._version,
            "dataset": type(self._dataset).__name__,
        }

    def load(self) -> Any:
        """Loads the version that Kedro resolves (the newest unless pinned)."""
        return self._dataset_at(self._get_load_path()).load()

    def save(self, data: Any) -> None:
        """Saves ``data``; a versioned local save appears only once it is complete."""
        save_path = self._get_save_path()  # Kedro's check that this version is new, too
        if not self._version or self._protocol != "file":
            self._dataset_at(save_path).save(data)
        else:
            with _staged(Path(save_path)) as staged_path:
                self._dataset_at(staged_path).save(data)
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def _exists(self) -> bool:
        """Tells whether the (resolved version of the) file exists."""
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(load_path)

    def _release(self) -> None:
        """Drops cached versions, the wrapped dataset's cache and filesystem listings."""
        super()._release()
        self._dataset.release()
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    @property
    def preview(self) -> Callable[..., Any]:
        """The wrapped type's preview of the loaded version; absent where that type has none."""
        wrapped_preview = self._dataset.preview  # AttributeError: kedro-viz then shows none

        def preview(**preview_args: Any) -> Any:
            return self._dataset_at(self._get_load_path()).preview(**preview_args)

        # kedro-viz picks its renderer by the return annotation of `preview`.
        preview.__signature__ = inspect.signature(wrapped_preview)  # type: ignore[attr-defined]
        return preview


@contextlib.contextmanager
def _staged(final: Path) -> Iterator[Path]:
    """A staging path for the file ``final`` (``<filepath>/<v>/<name>``), moved there after."""
    version_dir, filepath = final.parent, final.parent.parent
    staging_root = filepath.parent / f".{filepath.name}.saving"
    staged = staging_root / version_dir.name
    try:
        os.makedirs(filepath, exist_ok=True)
    except FileExistsError as exc:
        # A file of that name, saved before versioning was on: Kedro's save wrapper turns
        # NotADirectoryError into its message saying so.
        raise NotADirectoryError(str(exc)) from exc
    shutil.rmtree(staged, ignore_errors=True)  # a killed save of this version left it
    staged.mkdir(parents=True)
    try:
        yield staged / final.name
        _fsync_tree(staged)  # else a crash soon after the move can publish empty files
        os.rename(staged, version_dir)
        _fsync(filepath)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a half-written version behind.
        shutil.rmtree(staged, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(OSError):
            staging_root.rmdir()  # only once empty: another save may still be staging


def _fsync_tree(folder: Path) -> None:
    """Flushes every file and folder under ``folder`` to disk."""
    for dirpath, _, filenames in os.walk(folder):
        for filename in filenames:
            _fsync(Path(dirpath) / filename)
        _fsync(Path(dirpath))


def _fsync(path: Path) -> None:
    """Flushes one file or folder to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
