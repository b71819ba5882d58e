"""Tests for ``IDXDataset``: IDX parsing, validation errors, and atomic round-trip saves."""

from __future__ import annotations

import gzip
import struct
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest
from kedro.io import AbstractDataset, DatasetError

from fashion_vae.datasets import IDXDataset

# (dtype code, big-endian dtype) per the IDX spec, written out independently of the module.
IDX_TYPES = [
    (0x08, ">u1"),
    (0x09, ">i1"),
    (0x0B, ">i2"),
    (0x0C, ">i4"),
    (0x0D, ">f4"),
    (0x0E, ">f8"),
]


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """Encodes ``array`` (already in the big-endian dtype for ``code``) as IDX by hand."""
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        struct.pack(">I", size) for size in array.shape
    )
    return header + array.tobytes()


def sample(dtype: str | np.dtype, shape: tuple[int, ...] = (3, 4, 5)) -> np.ndarray:
    """Returns an array of ``dtype`` with distinct values, negatives where the dtype allows."""
    values = np.arange(np.prod(shape)).reshape(shape)
    if np.dtype(dtype).kind != "u":
        values = values - values.size // 2
    return (values * 1.5 if np.dtype(dtype).kind == "f" else values).astype(dtype)


# A tiny stand-in for Fashion-MNIST images, and its IDX encoding.
IMAGES = sample("u1", (4, 28, 28))
GOOD = idx_bytes(IMAGES, 0x08)


@pytest.fixture
def images() -> np.ndarray:
    """Returns a tiny stand-in for Fashion-MNIST images."""
    return IMAGES.copy()


def test_loads_plain_idx(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(idx_bytes(images, 0x08))

    loaded = IDXDataset(filepath=str(path), expected_shape=[None, 28, 28]).load()

    np.testing.assert_array_equal(loaded, images)
    assert loaded.dtype == np.uint8
    assert not loaded.flags.writeable


def test_detects_gzip_by_content_not_name(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(idx_bytes(images, 0x08)))

    np.testing.assert_array_equal(IDXDataset(filepath=str(path)).load(), images)


@pytest.mark.parametrize(("code", "dtype"), IDX_TYPES)
def test_loads_every_idx_dtype_in_native_byte_order(tmp_path: Path, code: int, dtype: str) -> None:
    array = sample(dtype)
    path = tmp_path / "data.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(array, code)))

    loaded = IDXDataset(filepath=str(path)).load()

    assert loaded.dtype == np.dtype(dtype).newbyteorder("=")
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)
    assert not loaded.flags.writeable


@pytest.mark.parametrize(("code", "dtype"), [IDX_TYPES[0], IDX_TYPES[3]])
def test_writeable_load_arg_gives_a_private_writeable_array(
    tmp_path: Path, code: int, dtype: str
) -> None:
    array = sample(dtype)
    path = tmp_path / "data.idx"
    path.write_bytes(idx_bytes(array, code))
    dataset = IDXDataset(filepath=str(path), load_args={"writeable": True})

    loaded = dataset.load()
    loaded += 1

    np.testing.assert_array_equal(dataset.load(), array)


def test_loads_empty_and_zero_dimensional_arrays(tmp_path: Path) -> None:
    empty = tmp_path / "empty.idx"
    empty.write_bytes(idx_bytes(np.zeros((0, 28, 28), ">u1"), 0x08))
    scalar = tmp_path / "scalar.idx"
    scalar.write_bytes(idx_bytes(np.array(-7, ">i4"), 0x0C))

    assert IDXDataset(filepath=str(empty)).load().shape == (0, 28, 28)
    assert IDXDataset(filepath=str(scalar)).load()[()] == -7


CORRUPT_FILES = [
    # (file name, content, fragments the error message must contain)
    ("bad-magic.idx", b"\x01\x00" + GOOD[2:], ["0x0000", "0x0100"]),
    ("bad-dtype.idx", GOOD[:2] + b"\x0a" + GOOD[3:], ["unknown", "0x0A"]),
    ("tiny.idx", b"\x00\x00", ["truncated", "4 bytes", "got 2"]),
    ("short-header.idx", GOOD[:9], ["truncated", "16 bytes", "got 9"]),
    ("truncated.idx", GOOD[:-10], ["truncated", str(len(GOOD)), str(len(GOOD) - 10)]),
    ("truncated.idx.gz", gzip.compress(GOOD[:-10]), ["truncated", str(len(GOOD))]),
    ("trailing.idx", GOOD + b"\x00" * 3, ["3 trailing bytes", str(len(GOOD))]),
    ("cut-short.gz", gzip.compress(GOOD)[:100], ["not a valid gzip file"]),
    ("bad-crc.gz", gzip.compress(GOOD)[:-8] + b"\x00" * 8, ["not a valid gzip file"]),
    ("plain-named.gz", GOOD, ["not gzip"]),
]


@pytest.mark.parametrize(
    ("name", "content", "fragments"), CORRUPT_FILES, ids=[case[0] for case in CORRUPT_FILES]
)
def test_corrupt_files_raise_dataset_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, fragments: list[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DatasetError) as excinfo:
        IDXDataset(filepath=str(path)).load()

    message = str(excinfo.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_expected_shape_mismatch_is_reported(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "images.idx"
    path.write_bytes(idx_bytes(images, 0x08))

    with pytest.raises(DatasetError, match=r"shape \(4, 28, 28\), expected \(\*, 32, 32\)"):
        IDXDataset(filepath=str(path), expected_shape=[None, 32, 32]).load()
    with pytest.raises(DatasetError, match=str(path)):
        IDXDataset(filepath=str(path), expected_shape=[None, 784]).load()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expected_shape": [None, -1]},
        {"expected_shape": [28.0]},
        {"load_args": {"mmap_mode": "r"}},
        {"save_args": {"compression": 9}},
    ],
)
def test_invalid_constructor_arguments_are_rejected(kwargs: dict) -> None:
    with pytest.raises(DatasetError):
        IDXDataset(filepath="x.idx", **kwargs)


@pytest.mark.parametrize("suffix", [".idx", ".idx.gz"])
@pytest.mark.parametrize(("code", "dtype"), IDX_TYPES)
def test_save_load_round_trip_is_exact(tmp_path: Path, suffix: str, code: int, dtype: str) -> None:
    # Little-endian and non-contiguous inputs must be written as big-endian C order.
    array = sample(np.dtype(dtype).newbyteorder("<"), (6, 5))[::2, ::-1]
    path = tmp_path / f"data{suffix}"
    dataset = IDXDataset(filepath=str(path))

    dataset.save(array)

    raw = path.read_bytes()
    if suffix.endswith(".gz"):
        assert raw[:2] == b"\x1f\x8b"
        raw = gzip.decompress(raw)
    assert raw == idx_bytes(array.astype(dtype), code)
    loaded = dataset.load()
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_gzip_output_is_deterministic(tmp_path: Path, images: np.ndarray) -> None:
    first, second = tmp_path / "a" / "images.gz", tmp_path / "b" / "images.gz"

    IDXDataset(filepath=str(first)).save(images)
    IDXDataset(filepath=str(second), save_args={"compresslevel": 6}).save(images)

    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(
    "data", [np.zeros(3, np.uint16), np.zeros(3, bool), np.zeros(3, np.complex64), [1, 2]]
)
def test_save_rejects_unsupported_data_and_keeps_old_file(
    tmp_path: Path, images: np.ndarray, data: object
) -> None:
    path = tmp_path / "images.idx.gz"
    dataset = IDXDataset(filepath=str(path))
    dataset.save(images)
    before = path.read_bytes()

    with pytest.raises(DatasetError, match="images.idx.gz"):
        dataset.save(data)

    assert path.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [path]


def test_save_checks_expected_shape(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "images.idx"

    with pytest.raises(DatasetError, match="expected"):
        IDXDataset(filepath=str(path), expected_shape=[None, 32, 32]).save(images)

    assert not path.exists()


def test_failed_write_leaves_old_file_and_no_temp_file(
    tmp_path: Path, images: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "images.idx.gz"
    dataset = IDXDataset(filepath=str(path))
    dataset.save(images)
    before = path.read_bytes()
    original_write = gzip.GzipFile.write

    def write_then_fail(self: gzip.GzipFile, data: bytes) -> int:
        original_write(self, data)
        raise OSError("disk full")

    monkeypatch.setattr(gzip.GzipFile, "write", write_then_fail)

    with pytest.raises(DatasetError, match="disk full"):
        dataset.save(images[:1])

    assert path.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [path]


def test_exists_and_describe(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "new" / "images.idx.gz"
    dataset = IDXDataset(filepath=str(path), expected_shape=[None, 28, 28])

    assert not dataset.exists()
    dataset.save(images)
    assert dataset.exists()
    assert str(path) in repr(dataset)
    assert "expected_shape=(None, 28, 28)" in repr(dataset)


def test_catalog_style_config(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "images.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    config = {
        "type": "fashion_vae.datasets.IDXDataset",
        "filepath": str(path),
        "expected_shape": [None, 28, 28],
    }

    dataset = AbstractDataset.from_config("train_images", config)

    assert isinstance(dataset, IDXDataset)
    np.testing.assert_array_equal(dataset.load(), images)


def test_other_fsspec_filesystems(images: np.ndarray) -> None:
    path = f"/idx-tests/{uuid.uuid4().hex}/images.idx.gz"
    dataset = IDXDataset(filepath=f"memory://{path}")

    dataset.save(images)

    memory = fsspec.filesystem("memory")
    assert gzip.decompress(memory.cat(path)) == idx_bytes(images, 0x08)
    np.testing.assert_array_equal(dataset.load(), images)
    memory.rm(path)
