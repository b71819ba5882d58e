"""``NumpyDataset`` loads and saves one numpy array as a ``.npy`` file."""

from __future__ import annotations

import os
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any, BinaryIO

import fsspec
import numpy as np
from kedro.io.core import (
    AbstractDataset,
    DatasetError,
    get_filepath_str,
    get_protocol_and_path,
)

from .atomic import write_atomically


class NumpyDataset(AbstractDataset[np.ndarray, np.ndarray]):
    """Loads/saves one numpy array from/to a ``.npy`` file on any fsspec filesystem.

    Local files are memory-mapped read-only by default (``load_args: {mmap_mode: r}``), so
    loading is instant and pages are shared between processes; other filesystems are read
    fully into memory, as memory maps need a local file. Pickled (object) arrays are refused
    both ways, because unpickling a file can run arbitrary code. A local save replaces the
    file whole, or not at all. Versioned, it is the ``dataset`` of a ``StagedVersionsDataset``.

    Example catalog entry:

    ```yaml
    train_features:
      type: fashion_vae.datasets.NumpyDataset
      filepath: data/04_feature/train_features.npy
    ```
    """

    DEFAULT_LOAD_ARGS: dict[str, Any] = {"mmap_mode": "r"}
    DEFAULT_FS_ARGS: dict[str, Any] = {
        "open_args_load": {"mode": "rb"},
        "open_args_save": {"mode": "wb"},
    }

    def __init__(
        self,
        *,
        filepath: str | os.PathLike,
        load_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a ``NumpyDataset``; ``load_args`` go to ``np.load`` (bar ``allow_pickle``)."""
        if (load_args or {}).get("allow_pickle"):
            raise DatasetError("NumpyDataset never loads pickled arrays: remove 'allow_pickle'")

        _fs_args = deepcopy(fs_args) or {}
        _fs_open_args_load = _fs_args.pop("open_args_load", {})
        _fs_open_args_save = _fs_args.pop("open_args_save", {})
        _credentials = deepcopy(credentials) or {}

        protocol, path = get_protocol_and_path(filepath)

        self._protocol = protocol
        self._fs = fsspec.filesystem(self._protocol, **_credentials, **_fs_args)
        self.metadata = metadata
        self._filepath = PurePosixPath(path)

        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {}), "allow_pickle": False}
        self._fs_open_args_load = {
            **self.DEFAULT_FS_ARGS["open_args_load"],
            **_fs_open_args_load,
        }
        self._fs_open_args_save = {
            **self.DEFAULT_FS_ARGS["open_args_save"],
            **_fs_open_args_save,
        }

    def _describe(self) -> dict[str, Any]:
        """Describes the dataset for ``repr`` and logs."""
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "load_args": self._load_args,
        }

    def load(self) -> np.ndarray:
        """Loads the array, memory-mapped for local files unless ``mmap_mode`` is null."""
        load_path = get_filepath_str(self._filepath, self._protocol)
        try:
            if self._protocol == "file":
                data = np.load(load_path, **self._load_args)
            else:
                load_args = {k: v for k, v in self._load_args.items() if k != "mmap_mode"}
                with self._fs.open(load_path, **self._fs_open_args_load) as npy_file:
                    data = np.load(npy_file, **load_args)
        except (ValueError, EOFError) as exc:
            # numpy's messages never say which file; truncated files end up here.
            raise DatasetError(f"Cannot load '{load_path}' as a .npy array: {exc}") from exc

        if not isinstance(data, np.ndarray):
            # np.load happily returns an NpzFile (which holds the file open) for .npz archives.
            data.close()
            raise DatasetError(f"'{load_path}' is a .npz archive, not a .npy array")
        return data

    def save(self, data: np.ndarray) -> None:
        """Saves the array as ``.npy``, atomically for local files."""
        if not isinstance(data, np.ndarray):
            raise DatasetError(
                f"NumpyDataset can only save numpy arrays, got {type(data).__name__}"
            )
        save_path = get_filepath_str(self._filepath, self._protocol)

        def write(out: BinaryIO) -> None:
            np.save(out, data, allow_pickle=False)

        write_atomically(self._fs, self._protocol, save_path, write, self._fs_open_args_save)
        self._invalidate_cache()

    def _exists(self) -> bool:
        """Tells whether the file exists."""
        return self._fs.exists(get_filepath_str(self._filepath, self._protocol))

    def _release(self) -> None:
        """Drops filesystem listings."""
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        """Invalidates the underlying filesystem's caches."""
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))
