"""Kedro datasets for the project's file formats."""

from .idx_dataset import IDXDataset
from .image_folder_dataset import ImageFolderDataset
from .numpy_dataset import NumpyDataset

__all__ = ["IDXDataset", "ImageFolderDataset", "NumpyDataset"]
