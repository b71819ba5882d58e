"""Tests for ``NumpyDataset``: memory-mapped loads, atomic saves, and versions when wrapped."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest
from kedro.io import DataCatalog, DatasetError, Version

from fashion_vae.datasets import NumpyDataset, StagedVersionsDataset


def versioned(filepath: Path | str, version: Version) -> StagedVersionsDataset:
    """A ``NumpyDataset`` versioned as the catalogs version it."""
    return StagedVersionsDataset(
        dataset={"type": "fashion_vae.datasets.NumpyDataset", "filepath": str(filepath)},
        version=version,
    )


@pytest.fixture
def array() -> np.ndarray:
    """Returns a small float array like a batch of encoded images."""
    return np.linspace(-1.0, 1.0, 2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)


def test_round_trip_memory_maps_read_only_by_default(tmp_path: Path, array: np.ndarray) -> None:
    path = tmp_path / "array.npy"
    dataset = NumpyDataset(filepath=str(path))

    dataset.save(array)
    loaded = dataset.load()

    assert isinstance(loaded, np.memmap)
    assert not loaded.flags.writeable
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)
    np.testing.assert_array_equal(np.load(path), array)


def test_mmap_mode_none_loads_into_memory(tmp_path: Path, array: np.ndarray) -> None:
    dataset = NumpyDataset(filepath=str(tmp_path / "array.npy"), load_args={"mmap_mode": None})
    dataset.save(array)

    loaded = dataset.load()

    assert not isinstance(loaded, np.memmap)
    assert loaded.flags.writeable
    np.testing.assert_array_equal(loaded, array)


def test_saved_file_gets_normal_permissions(tmp_path: Path, array: np.ndarray) -> None:
    path = tmp_path / "array.npy"
    umask = os.umask(0o022)
    try:
        NumpyDataset(filepath=str(path)).save(array)
    finally:
        os.umask(umask)

    assert path.stat().st_mode & 0o777 == 0o644


def test_save_replaces_file_under_an_open_memory_map(tmp_path: Path, array: np.ndarray) -> None:
    dataset = NumpyDataset(filepath=str(tmp_path / "array.npy"))
    dataset.save(array)
    mapped = dataset.load()

    dataset.save(array * 2)

    # The rename leaves the old inode, and so the old mapping, untouched.
    np.testing.assert_array_equal(mapped, array)
    np.testing.assert_array_equal(dataset.load(), array * 2)


@pytest.mark.parametrize("mmap_mode", ["r", None])
@pytest.mark.parametrize("keep_bytes", [0, 5, 60, -8])
def test_truncated_file_raises_dataset_error_naming_it(
    tmp_path: Path, array: np.ndarray, mmap_mode: str | None, keep_bytes: int
) -> None:
    path = tmp_path / "array.npy"
    np.save(path, array)
    path.write_bytes(path.read_bytes()[:keep_bytes])

    with pytest.raises(DatasetError, match=f"Cannot load '{path}'"):
        NumpyDataset(filepath=str(path), load_args={"mmap_mode": mmap_mode}).load()


def test_pickled_arrays_are_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)

    with pytest.raises(DatasetError, match="objects.npy"):
        NumpyDataset(filepath=str(path), load_args={"mmap_mode": None}).load()
    with pytest.raises(DatasetError, match="allow_pickle"):
        NumpyDataset(filepath=str(path), load_args={"allow_pickle": True})


def test_npz_archive_is_refused(tmp_path: Path, array: np.ndarray) -> None:
    path = tmp_path / "arrays.npy"
    with path.open("wb") as npz_file:
        np.savez(npz_file, a=array)

    with pytest.raises(DatasetError, match="npz archive"):
        NumpyDataset(filepath=str(path)).load()


def test_failed_save_keeps_old_file_and_leaves_no_temp_file(
    tmp_path: Path, array: np.ndarray
) -> None:
    path = tmp_path / "array.npy"
    dataset = NumpyDataset(filepath=str(path))
    dataset.save(array)
    before = path.read_bytes()

    # np.save writes the header before refusing object arrays: a half-written file.
    with pytest.raises(DatasetError, match="allow_pickle"):
        dataset.save(np.array([{"a": 1}], dtype=object))

    assert path.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [path]


def test_failed_rename_keeps_old_file(
    tmp_path: Path, array: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "array.npy"
    dataset = NumpyDataset(filepath=str(path))
    dataset.save(array)
    before = path.read_bytes()

    def fail(*_: object) -> None:
        raise OSError("interrupted")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(DatasetError, match="interrupted"):
        dataset.save(array * 2)

    assert path.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [path]


def test_save_rejects_non_arrays(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="only save numpy arrays"):
        NumpyDataset(filepath=str(tmp_path / "array.npy")).save([1, 2, 3])


def test_versioning(tmp_path: Path, array: np.ndarray) -> None:
    path = tmp_path / "array.npy"
    dataset = versioned(str(path), Version(None, None))
    assert not dataset.exists()

    first_version = "2024-01-01T00.00.00.000Z"
    versioned(str(path), Version(None, first_version)).save(array)
    dataset.save(array * 2)

    versions = dataset.list_versions(full_path=False)
    assert len(versions) == 2
    assert versions[-1] == first_version
    assert (path / first_version / "array.npy").is_file()
    assert dataset.exists()
    np.testing.assert_array_equal(dataset.load(), array * 2)
    pinned = versioned(str(path), Version(first_version, None))
    np.testing.assert_array_equal(pinned.load(), array)
    with pytest.raises(DatasetError, match="must not exist"):
        versioned(str(path), Version(None, first_version)).save(array)


def test_release_forgets_cached_load_version(tmp_path: Path, array: np.ndarray) -> None:
    path = str(tmp_path / "array.npy")
    reader = versioned(path, Version(None, None))
    versioned(path, Version(None, "2024-01-01T00.00.00.000Z")).save(array)
    np.testing.assert_array_equal(reader.load(), array)
    versioned(path, Version(None, "2024-01-02T00.00.00.000Z")).save(array * 2)

    reader.release()

    np.testing.assert_array_equal(reader.load(), array * 2)


def test_versioned_catalog_entry(tmp_path: Path, array: np.ndarray) -> None:
    catalog = DataCatalog.from_config(
        {
            "features": {
                "type": "fashion_vae.datasets.StagedVersionsDataset",
                "dataset": {
                    "type": "fashion_vae.datasets.NumpyDataset",
                    "filepath": str(tmp_path / "features.npy"),
                },
                "versioned": True,
            }
        }
    )

    catalog.save("features", array)

    np.testing.assert_array_equal(catalog.load("features"), array)
    assert len(list((tmp_path / "features.npy").iterdir())) == 1


def test_describe(tmp_path: Path) -> None:
    dataset = NumpyDataset(filepath=str(tmp_path / "array.npy"))

    description = dataset._describe()

    assert set(description) == {"filepath", "protocol", "load_args"}
    assert description["protocol"] == "file"
    assert description["load_args"] == {"mmap_mode": "r", "allow_pickle": False}


def test_other_fsspec_filesystems_load_fully(array: np.ndarray) -> None:
    path = f"/numpy-tests/{uuid.uuid4().hex}/array.npy"
    dataset = NumpyDataset(filepath=f"memory://{path}")

    dataset.save(array)
    loaded = dataset.load()

    assert not isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, array)
    fsspec.filesystem("memory").rm(path)


def test_failed_remote_save_does_not_publish_a_partial_file(array: np.ndarray) -> None:
    path = f"/numpy-tests/{uuid.uuid4().hex}/array.npy"
    dataset = NumpyDataset(filepath=f"memory://{path}")
    dataset.save(array)

    with pytest.raises(DatasetError):
        dataset.save(np.array([{"a": 1}], dtype=object))

    np.testing.assert_array_equal(dataset.load(), array)
    fsspec.filesystem("memory").rm(path)
