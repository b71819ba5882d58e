"""Kedro datasets for the project's file formats.

``StagedVersionsDataset`` wraps any of them, or a kedro-datasets type, so that a versioned
local save appears only when whole. The two that extend kedro-datasets' Keras and Matplotlib
types import on first use, so that importing this package does not import TensorFlow or
Matplotlib.
"""

from importlib import import_module
from typing import Any

from .idx_dataset import IDXDataset
from .image_folder_dataset import ImageFolderDataset
from .numpy_dataset import NumpyDataset
from .staged_versions_dataset import StagedVersionsDataset

_LAZY = {
    "MatplotlibDataset": ".matplotlib_dataset",
    "TensorFlowModelDataset": ".tensorflow_model_dataset",
}

__all__ = [
    "IDXDataset",
    "ImageFolderDataset",
    "MatplotlibDataset",
    "NumpyDataset",
    "StagedVersionsDataset",
    "TensorFlowModelDataset",
]


def __getattr__(name: str) -> Any:
    """Imports a lazily exported dataset class (how Kedro's ``load_obj`` finds it too)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name], __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
