"""The fence around Kedro datasets' protected members (`fashion_vae.datasets.kedro_api`),
checked on each dataset type of the catalog against the installed Kedro and kedro-datasets: an
upgrade that renames or changes one fails here, loudly, not in a run."""

from pathlib import Path

import numpy as np
import pytest
from kedro.io import MemoryDataset, Version
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pillow import ImageDataset
from kedro_datasets.text import TextDataset

from fashion_vae.datasets import (
    IDXDataset,
    ImageFolderDataset,
    MatplotlibDataset,
    NumpyDataset,
    StagedVersionsDataset,
    TensorFlowModelDataset,
)
from fashion_vae.datasets.kedro_api import (
    described_location,
    is_local_file,
    is_versioned,
    load_path,
    version_folder,
)

FILE_TYPES = [
    (IDXDataset, "raw.idx3-ubyte"),
    (MatplotlibDataset, "figure.png"),
    (NumpyDataset, "array.npy"),
    (TensorFlowModelDataset, "model.keras"),
    (JSONDataset, "metrics.json"),
    (CSVDataset, "table.csv"),
    (ImageDataset, "image.png"),
    (TextDataset, "notes.txt"),
]
VERSIONED_TYPES = [MatplotlibDataset, TensorFlowModelDataset, JSONDataset, CSVDataset]


@pytest.mark.parametrize(("kind", "name"), FILE_TYPES)
def test_a_local_file_dataset_names_its_file(tmp_path: Path, kind: type, name: str) -> None:
    dataset = kind(filepath=str(tmp_path / name))
    assert described_location(dataset, "?") == str(tmp_path / name)
    assert is_local_file(dataset)
    assert not is_versioned(dataset)
    assert version_folder(dataset) is None
    assert load_path(dataset) == tmp_path / name


@pytest.mark.parametrize("kind", VERSIONED_TYPES)
def test_a_versioned_dataset_loads_its_latest_version(tmp_path: Path, kind: type) -> None:
    filepath = tmp_path / "out.bin"
    dataset = kind(filepath=str(filepath), version=Version(None, None))
    assert is_versioned(dataset)
    assert version_folder(dataset) == filepath
    assert load_path(dataset) is None  # nothing saved yet
    for version in ("2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"):
        (filepath / version).mkdir(parents=True)
        (filepath / version / "out.bin").write_bytes(b"")
    fresh = kind(filepath=str(filepath), version=Version(None, None))
    assert load_path(fresh) == filepath / "2026-01-02T00.00.00.000Z" / "out.bin"


def test_the_staged_wrapper_answers_for_the_dataset_it_wraps(tmp_path: Path) -> None:
    filepath = tmp_path / "codes.npy"
    dataset = StagedVersionsDataset(
        dataset={"type": "fashion_vae.datasets.NumpyDataset", "filepath": str(filepath)},
        version=Version(None, None),
    )
    assert is_local_file(dataset) and is_versioned(dataset)
    assert described_location(dataset, "?") == str(filepath)
    dataset.save(np.zeros(3))
    saved = load_path(dataset)
    assert saved is not None and saved.parent.parent == filepath and saved.is_file()


def test_a_folder_of_user_images_is_named_but_not_a_cached_file(tmp_path: Path) -> None:
    folder = ImageFolderDataset(path=tmp_path)
    assert described_location(folder, "?") == str(tmp_path)
    assert not is_local_file(folder)


def test_data_kept_in_memory_is_no_file() -> None:
    memory = MemoryDataset()
    assert not is_local_file(memory)
    assert not is_versioned(memory)
    assert described_location(memory, "in memory") == "in memory"
    assert described_location(None, "absent") == "absent"
