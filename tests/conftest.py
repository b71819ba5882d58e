"""Shared fixtures: real Fashion-MNIST subsets and a throw-away copy of the Kedro project."""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

# Keras reads the backend when first imported; tests use the project's default.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = PROJECT_ROOT / "data" / "01_raw" / "fashion-mnist"


def _require_raw(name: str) -> Path:
    path = RAW_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make data` (or `make test`, which runs it) first")
    return path


@pytest.fixture(scope="session")
def real_images() -> np.ndarray:
    """The first 2,000 real training images as float32 N×28×28×1 in [0, 1]."""
    with gzip.open(_require_raw("train-images-idx3-ubyte.gz")) as raw:
        raw.read(16)  # IDX header: magic and three dimensions
        pixels = np.frombuffer(raw.read(2000 * 28 * 28), dtype=np.uint8)
    return (pixels.reshape(-1, 28, 28, 1) / np.float32(255)).astype(np.float32)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's configuration, writing into tmp_path, reading the real raw data."""
    _require_raw("train-images-idx3-ubyte.gz")
    for item in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / item, tmp_path / item)
    shutil.copytree(
        PROJECT_ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local")
    )
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()  # the package itself is installed (editable) in the venv
    (tmp_path / "data" / "01_raw").mkdir(parents=True)
    (tmp_path / "data" / "01_raw" / "fashion-mnist").symlink_to(RAW_DIR)
    return tmp_path
