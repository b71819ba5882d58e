"""Kedro datasets for the project's file formats.

The kedro-datasets types that the catalogs version are here too, as subclasses whose versioned
local saves appear only when whole (``StagedVersionsMixin``). They import on first use, so that
importing this package does not import TensorFlow, pandas or Matplotlib.
"""

from importlib import import_module
from typing import Any

from ._staged_versions import StagedVersionsMixin
from .idx_dataset import IDXDataset
from .image_folder_dataset import ImageFolderDataset
from .numpy_dataset import NumpyDataset

_LAZY = {
    "CSVDataset": ".csv_dataset",
    "ImageDataset": ".image_dataset",
    "JSONDataset": ".json_dataset",
    "MatplotlibDataset": ".matplotlib_dataset",
    "TensorFlowModelDataset": ".tensorflow_model_dataset",
    "TextDataset": ".text_dataset",
}

__all__ = [
    "CSVDataset",
    "IDXDataset",
    "ImageDataset",
    "ImageFolderDataset",
    "JSONDataset",
    "MatplotlibDataset",
    "NumpyDataset",
    "StagedVersionsMixin",
    "TensorFlowModelDataset",
    "TextDataset",
]


def __getattr__(name: str) -> Any:
    """Imports a lazily exported dataset class (how Kedro's ``load_obj`` finds it too)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name], __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
