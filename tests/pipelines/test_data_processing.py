"""The data_processing nodes' contracts, and the pipeline end to end on the test environment."""

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from configs import section

from fashion_vae.parameters import DataProcessingParameters
from fashion_vae.pipelines.data_processing.nodes import (
    add_channel_axis,
    ingest,
    normalize,
    split_validation,
)


@pytest.fixture
def raw() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), rng.integers(0, 10, 50, np.uint8)


def test_ingest_keeps_the_first_max_count(raw: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = ingest(*raw, max_count=20)
    assert images.shape == (20, 28, 28) and labels.shape == (20,)
    np.testing.assert_array_equal(images, raw[0][:20])
    assert ingest(*raw, max_count=None)[0].shape == (50, 28, 28)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((5, 28, 27), np.uint8), np.zeros(5, np.uint8), r"shape \(5, 28, 27\)"),
        (np.zeros((5, 28, 28), np.float32), np.zeros(5, np.uint8), "dtype float32"),
        (np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8), "5 images but 4 labels"),
        (np.zeros((2, 28, 28), np.uint8), np.array([3, 10], np.uint8), "labels range from 3 to 10"),
    ],
)
def test_ingest_refuses_inconsistent_data(
    images: np.ndarray, labels: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ingest(images, labels, max_count=None)


def test_normalize_maps_uint8_to_unit_float32() -> None:
    images = np.array([[0, 51, 255]], dtype=np.uint8)
    normalized = normalize(images)
    assert normalized.dtype == np.float32
    np.testing.assert_allclose(normalized, [[0.0, 0.2, 1.0]])


def test_add_channel_axis() -> None:
    assert add_channel_axis(np.zeros((3, 28, 28), np.float32)).shape == (3, 28, 28, 1)


def holding_out(validation_size: int) -> DataProcessingParameters:
    return section("data_processing", validation_size=validation_size)


def test_split_is_seeded_disjoint_and_complete() -> None:
    images = np.arange(100, dtype=np.float32).reshape(100, 1)
    labels = np.arange(100) % 10
    parts = split_validation(images, labels, holding_out(20), 1)
    train, train_labels, validation, validation_labels = parts
    assert len(train) == 80 and len(validation) == 20
    assert sorted(np.concatenate([train, validation]).ravel()) == list(range(100))
    np.testing.assert_array_equal(train_labels, train.ravel().astype(int) % 10)
    np.testing.assert_array_equal(validation_labels, validation.ravel().astype(int) % 10)
    np.testing.assert_array_equal(
        split_validation(images, labels, holding_out(20), 1)[2], validation
    )
    assert not np.array_equal(split_validation(images, labels, holding_out(20), 2)[2], validation)


def test_split_refuses_to_hold_out_every_image() -> None:
    with pytest.raises(ValueError, match="validation_size is 100; expected between 1 and 99"):
        split_validation(np.zeros((100, 1)), np.zeros(100), holding_out(100), 0)


def test_data_processing_end_to_end_on_real_subset(
    project_copy: Path, run_pipelines: Callable
) -> None:
    run_pipelines(project_copy, "data_processing")
    model_input = project_copy / "data" / "test_env" / "05_model_input"
    train = np.load(model_input / "train_images.npy")
    validation = np.load(model_input / "validation_images.npy")
    test = np.load(model_input / "test_images.npy")
    assert train.shape == (1024 - 256, 28, 28, 1) and validation.shape == (256, 28, 28, 1)
    assert test.shape == (512, 28, 28, 1)
    for images in (train, validation, test):
        assert images.dtype == np.float32 and images.min() == 0.0 and images.max() == 1.0
    assert np.load(model_input / "train_labels.npy").shape == (1024 - 256,)
    assert not (project_copy / "data" / "05_model_input").exists()  # base outputs untouched

    # Persisted: the validated uint8 arrays and one float32 copy of the images, nothing between.
    output = project_copy / "data" / "test_env"
    persisted = {
        path.relative_to(output).as_posix(): path.stat().st_size for path in output.rglob("*.npy")
    }
    uint8_bytes = (1024 + 512) * 28 * 28 + 1024 + 512  # images and labels of both raw subsets
    float32_bytes = 4 * (1024 + 512) * 28 * 28 + (1024 - 256) + 256  # and the split's labels
    header_bytes = 128 * len(persisted)  # NumPy's .npy header, 128 bytes for these shapes
    assert sum(persisted.values()) == uint8_bytes + float32_bytes + header_bytes, persisted
    assert {name.partition("/")[0] for name in persisted} == {"02_intermediate", "05_model_input"}


def test_missing_raw_data_says_to_run_make_data(
    project_copy: Path, run_pipelines: Callable
) -> None:
    (project_copy / "data" / "01_raw" / "fashion-mnist").unlink()
    with pytest.raises(Exception, match="make data"):
        run_pipelines(project_copy, "data_processing")


def test_corrupt_raw_file_is_refused_and_outputs_kept(
    project_copy: Path, run_pipelines: Callable
) -> None:
    run_pipelines(project_copy, "data_processing")
    output = project_copy / "data" / "test_env" / "05_model_input" / "train_images.npy"
    before = output.read_bytes()
    raw = project_copy / "data" / "01_raw" / "fashion-mnist"
    real = raw.resolve()
    raw.unlink()
    shutil.copytree(real, raw)
    corrupt = raw / "train-images-idx3-ubyte.gz"
    corrupt.write_bytes(corrupt.read_bytes()[:5000])
    with pytest.raises(Exception, match="train-images-idx3-ubyte.gz"):
        run_pipelines(project_copy, "data_processing")
    assert output.read_bytes() == before


def test_a_run_of_data_processing_alone_imports_no_tensorflow(project_copy: Path) -> None:
    # The data needs no model: `kedro run --pipelines=data_processing` must not pay seconds
    # and a gigabyte for TensorFlow (settings, hooks, runner and catalog alike).
    script = textwrap.dedent(
        f"""
        import sys
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        bootstrap_project({str(project_copy)!r})
        with KedroSession.create(project_path={str(project_copy)!r}, env="test") as session:
            session.run(pipeline_names=["data_processing"])
        print("loaded:", *(m for m in ("tensorflow", "keras", "sklearn") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "loaded:"
    assert list((project_copy / "data" / "test_env" / "05_model_input").glob("*.npy"))
