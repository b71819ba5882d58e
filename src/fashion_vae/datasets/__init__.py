"""Kedro datasets for the project's file formats."""

from .idx_dataset import IDXDataset
from .numpy_dataset import NumpyDataset

__all__ = ["IDXDataset", "NumpyDataset"]
