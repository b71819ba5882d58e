"""Expected failures end a `kedro run` with one short message; unexpected ones keep their trace."""

import contextlib
import gzip
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from kedro.framework.startup import bootstrap_project

import fashion_vae.cli


def kedro_run(project: Path, *args: str) -> Result:
    """`kedro run --env test ARGS` through the project's CLI, in `project`."""
    bootstrap_project(project)
    with contextlib.chdir(project):
        return CliRunner().invoke(fashion_vae.cli.cli, ["run", "--env", "test", *args])


def _short_error(result: Result) -> str:
    """The output of a run refused with a short message (click's `Error: ...`, exit code 1)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback to show
    assert "Traceback" not in result.output
    return result.output


def test_a_bad_parameter_is_one_message_naming_it(project_copy: Path) -> None:
    output = _short_error(kedro_run(project_copy, "--params", "training.latent_dim=0"))
    assert "Error: Parameter validation failed" in output
    assert "latent_dim\n  Input should be greater than 0" in output
    assert not (project_copy / "data" / "test_env").exists()  # refused before any node


def test_a_missing_input_is_one_message_saying_what_to_run(project_copy: Path) -> None:
    output = _short_error(kedro_run(project_copy, "--pipelines", "training"))
    assert "input 'model_input_train'" in output
    assert "run `kedro run --pipelines=data_processing`" in output


def test_a_data_error_names_the_node_and_its_files(project_copy: Path) -> None:
    """Test labels one short of the images, with the identity check off: ingest refuses them."""
    raw = project_copy / "data" / "01_raw" / "fashion-mnist"
    real = raw.resolve()
    raw.unlink()
    shutil.copytree(real, raw)
    labels = gzip.decompress((raw / "t10k-labels-idx1-ubyte.gz").read_bytes())
    short = labels[:4] + struct.pack(">I", 9999) + labels[8:-1]
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(short))
    unchecked = "data_processing.raw_sha256=null"
    result = kedro_run(project_copy, "--pipelines", "data_processing", "--params", unchecked)
    output = _short_error(result)
    assert "Error: 10000 images but 9999 labels; expected equal counts" in output
    assert "in node data_processing.test.ingest, reading test_images_raw (" in output
    assert "t10k-images-idx3-ubyte.gz), test_labels_raw (" in output


def test_an_unexpected_error_keeps_its_traceback(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(seed: object) -> None:
        raise RuntimeError("a bug, not an expected failure")

    monkeypatch.setattr(np.random, "default_rng", broken)  # split_validation's shuffle
    result = kedro_run(project_copy, "--pipelines", "data_processing")
    assert isinstance(result.exception, RuntimeError)


@pytest.fixture
def project_copy(tmp_path: Path, copy_project: Callable[[Path], Path]) -> Path:
    return copy_project(tmp_path)
