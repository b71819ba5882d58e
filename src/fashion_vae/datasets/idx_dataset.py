"""``IDXDataset`` loads and saves numpy arrays in the (optionally gzip'd) IDX format of MNIST."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
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

_GZIP_MAGIC = b"\x1f\x8b"
_PREAMBLE_BYTES = 4  # two zero bytes, the dtype code, the number of dimensions

# IDX stores every multi-byte value big-endian.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_SIZE_TO_CODE: dict[tuple[str, int], int] = {
    (dtype.kind, dtype.itemsize): code for code, dtype in _CODE_TO_DTYPE.items()
}


class IDXDataset(AbstractDataset[np.ndarray, np.ndarray]):
    """Loads/saves one numpy array from/to an IDX file (gzip'd or plain) on any fsspec filesystem.

    The IDX format (http://yann.lecun.com/exdb/mnist/) is a 4-byte preamble (two zero bytes,
    a dtype code, the number of dimensions), one big-endian uint32 per dimension, then the
    big-endian data in C order. Compression is detected from the gzip magic bytes on load and
    chosen by a ``.gz`` suffix on save.

    Example catalog entry:

    ```yaml
    train_images:
      type: fashion_vae.datasets.IDXDataset
      filepath: data/01_raw/fashion-mnist/train-images-idx3-ubyte.gz
      expected_shape: [null, 28, 28]
    ```

    Arrays are returned in native byte order and are read-only unless
    ``load_args: {writeable: true}``; read-only lets uint8 data skip a copy of the buffer.
    """

    DEFAULT_LOAD_ARGS: dict[str, Any] = {"writeable": False}
    DEFAULT_SAVE_ARGS: dict[str, Any] = {"compresslevel": 6}
    DEFAULT_FS_ARGS: dict[str, Any] = {
        "open_args_load": {"mode": "rb"},
        "open_args_save": {"mode": "wb"},
    }

    def __init__(
        self,
        *,
        filepath: str | os.PathLike,
        expected_shape: list[int | None] | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates an ``IDXDataset``; ``expected_shape`` entries of ``None`` match any size."""
        _check_known_keys("load_args", load_args, self.DEFAULT_LOAD_ARGS)
        _check_known_keys("save_args", save_args, self.DEFAULT_SAVE_ARGS)
        if expected_shape is not None and not all(
            size is None or (isinstance(size, int) and size >= 0) for size in expected_shape
        ):
            raise DatasetError(
                f"expected_shape must be a list of non-negative ints or nulls, "
                f"got {expected_shape!r}"
            )

        _fs_args = deepcopy(fs_args) or {}
        _fs_open_args_load = _fs_args.pop("open_args_load", {})
        _fs_open_args_save = _fs_args.pop("open_args_save", {})
        _credentials = deepcopy(credentials) or {}

        protocol, path = get_protocol_and_path(filepath)

        self._protocol = protocol
        self._fs = fsspec.filesystem(self._protocol, **_credentials, **_fs_args)
        self._filepath = PurePosixPath(path)
        self._expected_shape = None if expected_shape is None else tuple(expected_shape)
        self.metadata = metadata

        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
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
            "expected_shape": self._expected_shape,
            "load_args": self._load_args,
            "save_args": self._save_args,
        }

    def load(self) -> np.ndarray:
        """Reads and validates the IDX file and returns its array."""
        load_path = get_filepath_str(self._filepath, self._protocol)
        with self._fs.open(load_path, **self._fs_open_args_load) as idx_file:
            raw = idx_file.read()

        if raw[:2] == _GZIP_MAGIC:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise DatasetError(f"'{load_path}' is not a valid gzip file: {exc}") from exc
        elif load_path.endswith(".gz"):
            # A .gz name with other content is usually a failed download (e.g. an HTML page).
            raise DatasetError(
                f"'{load_path}' ends with '.gz' but is not gzip: it starts with {raw[:4]!r}"
            )

        array = _parse_idx(raw, load_path)
        self._check_shape(array.shape, load_path)

        writeable = self._load_args["writeable"]
        if array.dtype.itemsize > 1:
            # Downstream libraries (TensorFlow among them) expect native byte order.
            array = array.astype(array.dtype.newbyteorder("="))
        elif writeable:
            # np.frombuffer over immutable bytes cannot be made writeable in place.
            array = array.copy()
        array.flags.writeable = writeable
        return array

    def save(self, data: np.ndarray) -> None:
        """Writes ``data`` as IDX, gzip'd when the filepath ends with ``.gz``."""
        save_path = get_filepath_str(self._filepath, self._protocol)
        if not isinstance(data, np.ndarray):
            raise DatasetError(
                f"IDXDataset can only save numpy arrays, got {type(data).__name__} "
                f"for '{save_path}'"
            )
        code = _KIND_SIZE_TO_CODE.get((data.dtype.kind, data.dtype.itemsize))
        if code is None:
            raise DatasetError(
                f"Cannot save dtype {data.dtype} to IDX file '{save_path}': IDX supports only "
                f"uint8, int8, int16, int32, float32 and float64"
            )
        if data.ndim > 255 or any(size > 0xFFFFFFFF for size in data.shape):
            raise DatasetError(
                f"Cannot save shape {data.shape} to IDX file '{save_path}': at most 255 "
                f"dimensions of at most 2**32 - 1 elements each"
            )
        self._check_shape(data.shape, save_path)

        header = struct.pack(f">HBB{data.ndim}I", 0, code, data.ndim, *data.shape)
        # Flat uint8 view of the big-endian C-order data: written without another copy.
        body = np.ascontiguousarray(data, dtype=_CODE_TO_DTYPE[code]).reshape(-1).view(np.uint8)

        def write(out: BinaryIO) -> None:
            if save_path.endswith(".gz"):
                # filename="" and mtime=0 keep the temp file's name and the time out of the
                # gzip header, so the same array always gives the same bytes.
                with gzip.GzipFile(
                    filename="",
                    mode="wb",
                    fileobj=out,
                    compresslevel=self._save_args["compresslevel"],
                    mtime=0,
                ) as gz_file:
                    gz_file.write(header)
                    gz_file.write(body)
            else:
                out.write(header)
                out.write(body)

        write_atomically(self._fs, self._protocol, save_path, write, self._fs_open_args_save)
        self._invalidate_cache()

    def _exists(self) -> bool:
        """Tells whether the file exists."""
        return self._fs.exists(get_filepath_str(self._filepath, self._protocol))

    def _release(self) -> None:
        """Drops cached filesystem listings."""
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        """Invalidates the underlying filesystem's caches."""
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def _check_shape(self, shape: tuple[int, ...], path: str) -> None:
        """Raises ``DatasetError`` when ``shape`` does not fit ``expected_shape``."""
        expected = self._expected_shape
        if expected is None:
            return
        if len(shape) != len(expected) or any(
            want is not None and want != got for want, got in zip(expected, shape, strict=True)
        ):
            wanted = ", ".join("*" if size is None else str(size) for size in expected)
            raise DatasetError(
                f"'{path}' holds an array of shape {shape}, expected ({wanted}) (* means any size)"
            )


def _parse_idx(raw: bytes, path: str) -> np.ndarray:
    """Validates the IDX header of ``raw`` and returns a zero-copy big-endian array view."""
    if len(raw) < _PREAMBLE_BYTES:
        raise DatasetError(
            f"'{path}' is truncated: an IDX header needs at least {_PREAMBLE_BYTES} bytes, "
            f"got {len(raw)}"
        )
    zero, code, ndim = struct.unpack_from(">HBB", raw)
    if zero != 0:
        raise DatasetError(
            f"'{path}' is not an IDX file: its first two bytes must be 0x0000, got 0x{zero:04x}"
        )
    dtype = _CODE_TO_DTYPE.get(code)
    if dtype is None:
        known = ", ".join(f"0x{known:02X}" for known in _CODE_TO_DTYPE)
        raise DatasetError(f"'{path}' has unknown IDX dtype code 0x{code:02X} (known: {known})")

    header_bytes = _PREAMBLE_BYTES + 4 * ndim
    if len(raw) < header_bytes:
        raise DatasetError(
            f"'{path}' is truncated: its {ndim}-dimensional header needs {header_bytes} bytes, "
            f"got {len(raw)}"
        )
    shape = struct.unpack_from(f">{ndim}I", raw, _PREAMBLE_BYTES)
    count = math.prod(shape)
    expected_bytes = header_bytes + count * dtype.itemsize
    if len(raw) < expected_bytes:
        raise DatasetError(
            f"'{path}' is truncated: header says shape {shape} of {dtype.name}, i.e. "
            f"{expected_bytes} bytes, but the data has {len(raw)} bytes"
        )
    if len(raw) > expected_bytes:
        raise DatasetError(
            f"'{path}' has {len(raw) - expected_bytes} trailing bytes: header says shape "
            f"{shape} of {dtype.name}, i.e. {expected_bytes} bytes, but the data has "
            f"{len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header_bytes).reshape(shape)


def _check_known_keys(name: str, args: dict[str, Any] | None, defaults: dict[str, Any]) -> None:
    """Rejects unknown keys so a typo in the catalog fails loudly instead of being ignored."""
    unknown = sorted(set(args or {}) - set(defaults))
    if unknown:
        raise DatasetError(f"Unknown {name} for IDXDataset: {unknown}; known: {sorted(defaults)}")
