"""A project copy with a model and latent density trained on the `test` environment, shared."""

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

OUTPUT = Path("data") / "test_env"


def run(
    project: Path,
    pipeline: str,
    params: dict[str, Any] | None = None,
    load_versions: dict[str, str] | None = None,
) -> None:
    """`kedro run --env=test --pipelines=<pipeline> --params ... --load-versions ...`."""
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="test", runtime_params=params) as session:
        session.run(pipeline_names=[pipeline], load_versions=load_versions or {})


def versions(project: Path, dataset_path: str) -> list[str]:
    """The stored versions of a versioned dataset of the test environment, oldest first."""
    folder = project / OUTPUT / dataset_path
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def latest(project: Path, dataset_path: str) -> Path:
    """The newest version's file of a versioned dataset of the test environment."""
    name = Path(dataset_path).name
    return project / OUTPUT / dataset_path / versions(project, dataset_path)[-1] / name


@pytest.fixture(scope="session")
def trained_project(
    tmp_path_factory: pytest.TempPathFactory, complete_run: SimpleNamespace, copy_of: Callable
) -> Path:
    """A copy of the complete run of the test environment: a 2-epoch model, its density, ..."""
    return copy_of(complete_run.project, tmp_path_factory.mktemp("trained") / "project")


@pytest.fixture(scope="session")
def kedro() -> SimpleNamespace:
    """`run`, `versions` and `latest` above, for the tests (which cannot import a conftest)."""
    return SimpleNamespace(run=run, versions=versions, latest=latest)


@pytest.fixture(scope="session")
def explorer(trained_project: Path) -> Any:
    """The explorer of the trained project's model, loaded through its catalog."""
    from fashion_vae.explorer.loading import load_explorer  # noqa: PLC0415

    return load_explorer(trained_project, "test", {})
