"""Shared fixtures: real Fashion-MNIST subsets, throw-away copies of the Kedro project, and
one complete run of it that the whole suite shares."""

import contextlib
import fcntl
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from configs import vae_config
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from fashion_vae.cache import make_runner
from fashion_vae.model import VAE, build_vae

# Keras reads the backend when first imported; tests use the project's default.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
# MLflow 3 would fetch its telemetry configuration from the network on its first event.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
# The project's runs set their own store (conf/*/mlflow.yml). A ParallelRunner worker of a
# synthetic pipeline (tests/cache) runs with Kedro's default settings, so kedro-mlflow's plugin
# hook logs there to MLflow's default store, ./mlflow.db: keep that out of the repository.
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tempfile.mkdtemp(prefix='mlflow-')}/mlflow.db"

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = PROJECT_ROOT / "data" / "01_raw" / "fashion-mnist"


@pytest.fixture(scope="session", autouse=True)
def _no_stray_mlflow_store() -> Iterator[None]:
    """No test leaves an MLflow store in the repository (MLflow's default is ./mlruns)."""
    strays = [PROJECT_ROOT / "mlruns", PROJECT_ROOT / "mlflow.db"]
    before = [path.exists() for path in strays]
    yield
    created = [str(p) for p, existed in zip(strays, before, strict=True) if p.exists() > existed]
    assert not created, f"a test wrote {created}: give its MLflow store a temporary folder"


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


def copy_project(destination: Path, *, tracking: bool = False) -> Path:
    """The project's configuration in destination, writing there, reading the real raw data.

    MLflow tracking is off in the copy unless `tracking` (tests/test_tracking.py): a tracked
    run also creates a store and logs a model, which the other tests have no use for.
    """
    _require_raw("train-images-idx3-ubyte.gz")
    destination.mkdir(parents=True, exist_ok=True)
    for item in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / item, destination / item)
    shutil.copytree(
        PROJECT_ROOT / "conf", destination / "conf", ignore=shutil.ignore_patterns("local")
    )
    (destination / "conf" / "local").mkdir()
    if not tracking:
        (destination / "conf" / "test" / "parameters_tracking.yml").write_text(
            "tracking:\n  enabled: false\n"
        )
    (destination / "src").mkdir()  # the package itself is installed (editable) in the venv
    (destination / "data" / "01_raw").mkdir(parents=True)
    (destination / "data" / "01_raw" / "fashion-mnist").symlink_to(RAW_DIR)
    return destination


@pytest.fixture(name="copy_project", scope="session")
def copy_project_fixture() -> Callable[[Path], Path]:
    """The `copy_project` function, for fixtures that keep a copy longer than one test."""
    return copy_project


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A throw-away copy of the project for one test."""
    return copy_project(tmp_path)


def run_pipelines(project: Path, *pipelines: str, **session_args: Any) -> None:
    """Run pipelines of the `test` environment of a project copy, as `kedro run --env=test`."""
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="test", **session_args) as session:
        session.run(pipeline_names=list(pipelines))


@pytest.fixture(name="run_pipelines", scope="session")
def run_pipelines_fixture() -> Callable[..., None]:
    """The `run_pipelines` function, for tests that run a project copy."""
    return run_pipelines


def cached_run(
    project: Path,
    pipelines: list[str] | None = None,
    runtime_params: dict[str, Any] | None = None,
) -> dict[str, str]:
    """One cached `kedro run --env test` in `project`; the runner's decision for each node."""
    bootstrap_project(project)
    # training.checkpoint_dir is relative to the working directory, as under `kedro run`.
    with (
        contextlib.chdir(project),
        KedroSession.create(project, env="test", runtime_params=runtime_params) as session,
    ):
        runner = make_runner(session.load_context())
        session.run(pipeline_names=pipelines, runner=runner)
    return runner.decisions


@pytest.fixture(name="cached_run", scope="session")
def cached_run_fixture() -> Callable[..., dict[str, str]]:
    """The `cached_run` function, for tests that run a project copy as `kedro run` does."""
    return cached_run


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` (the test workers' processes wait for each other)."""
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def complete_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> SimpleNamespace:
    """A project copy after one complete cached `kedro run --env test`, made once per suite.

    `project` is shared by every test module and every test worker: read it, or copy it with
    `copy_of` before writing. `decisions` is what that first run's runner decided per node.
    """
    project = _once_per_suite(
        tmp_path_factory,
        worker_id,
        "complete_run",
        lambda project: json.dumps(cached_run(copy_project(project))),
    )
    return SimpleNamespace(project=project, decisions=json.loads(_record(project).read_text()))


def _once_per_suite(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    name: str,
    make: Callable[[Path], str],
) -> Path:
    """The folder `name` that `make` fills once for every test worker of the suite (the first
    to come makes it, the others wait); what `make` returns is kept in `_record(folder)`."""
    # pytest-xdist's workers have their own temporary folders under one shared parent.
    shared = tmp_path_factory.getbasetemp()
    shared = shared if worker_id == "master" else shared.parent
    folder = shared / name
    with _exclusive(shared / f"{name}.lock"):
        if not _record(folder).exists():
            shutil.rmtree(folder, ignore_errors=True)
            _record(folder).write_text(make(folder))
    return folder


def _record(folder: Path) -> Path:
    """Where `_once_per_suite` keeps what made `folder`."""
    return folder.with_name(f"{folder.name}.json")


# The sweep without cache, sequentially, in a fresh process (a script for `python -c`).
SEQUENTIAL_SWEEP = """
import sys
from pathlib import Path
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from fashion_vae.cache import CachingRunner
bootstrap_project(Path(sys.argv[1]))
with KedroSession.create(project_path=Path(sys.argv[1]), env="test") as session:
    session.run(pipeline_names=["sweep"], runner=CachingRunner(enabled=False))
"""


@pytest.fixture(scope="session")
def sweep_project(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, complete_run: SimpleNamespace
) -> Path:
    """A copy of the complete run after one sequential sweep, made once per suite and shared
    like `complete_run`. The sweep runs in a fresh process in the copy (its checkpoints too):
    TensorFlow's thread pools, which change the numerics, are fixed by a process's first op, so
    an in-process run would depend on which tests ran before it in this process."""

    def make(project: Path) -> str:
        copy_of(complete_run.project, project)
        command = [sys.executable, "-c", SEQUENTIAL_SWEEP, str(project)]
        subprocess.run(command, check=True, timeout=300, cwd=project)
        return "{}"

    return _once_per_suite(tmp_path_factory, worker_id, "sweep_project", make)


def copy_of(project: Path, destination: Path) -> Path:
    """A copy of a project copy (its raw data still a link), to write in."""
    return shutil.copytree(project, destination, symlinks=True)


@pytest.fixture(name="copy_of", scope="session")
def copy_of_fixture() -> Callable[[Path, Path], Path]:
    """The `copy_of` function, for fixtures and tests."""
    return copy_of


@pytest.fixture(scope="session")
def vae() -> VAE:
    """A tiny untrained VAE with a 4-dimensional latent space."""
    config = vae_config(
        4,
        encoder_filters=[4, 8],
        encoder_dense_units=[],
        decoder_filters=[8, 4],
        decoder_dense_units=[],
    )
    return build_vae(config, seed=0)
