"""A damaged stored artifact ends a run with one `Error:` naming it, and nothing newer is written.

Each case damages the newest version of one artifact of a complete `test` run, then runs the
pipeline that reads it through the project's `kedro run`.
"""

import contextlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result
from kedro.framework.startup import bootstrap_project

import fashion_vae.cli

OUTPUT = Path("data") / "test_env"


def kedro_run(project: Path, *args: str) -> Result:
    """`kedro run --env test ARGS` through the project's CLI, in `project`."""
    bootstrap_project(project)
    with contextlib.chdir(project):
        return CliRunner().invoke(fashion_vae.cli.cli, ["run", "--env", "test", *args])


def newest(project: Path, dataset_path: str) -> Path:
    """The newest version's file of a versioned dataset."""
    folder = project / OUTPUT / dataset_path
    return max(folder.iterdir()) / folder.name


def stored_versions(project: Path) -> list[str]:
    """Every version folder of every versioned dataset of the environment."""
    output = project / OUTPUT
    return sorted(str(p.relative_to(output)) for p in output.glob("*/*/*") if p.is_dir())


def truncate(path: Path) -> None:
    """Keep the first half of the file."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# artifact: (its file under the environment's outputs, how it is damaged, the pipeline that
# reads it, what the message must say)
CASES = {
    "model": ("06_models/vae.keras", truncate, "generate", "vae_model"),
    "classifier": (
        "06_models/fashion_classifier.keras",
        truncate,
        "evaluate",
        "fashion_classifier",
    ),
    "latent density": (
        "06_models/latent_density.json",
        lambda path: path.write_text('{"format": "something else"}'),
        "generate",
        "latent_density",
    ),
    "metrics": (
        "08_reporting/metrics.json",
        lambda path: path.write_text('{"elbo": '),
        "report",
        "metrics",
    ),
}


@pytest.fixture
def project(complete_run: SimpleNamespace, copy_of: Callable, tmp_path: Path) -> Path:
    return copy_of(complete_run.project, tmp_path / "project")


@pytest.mark.parametrize("artifact", sorted(CASES))
def test_a_damaged_artifact_is_one_error_naming_it(project: Path, artifact: str) -> None:
    dataset_path, damage, pipeline, named = CASES[artifact]
    damaged = newest(project, dataset_path)
    damage(damaged)
    before, damaged_bytes = stored_versions(project), damaged.read_bytes()
    result = kedro_run(project, "--pipelines", pipeline)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback shown
    assert "Traceback" not in result.output
    assert "Error:" in result.output and named in result.output
    assert damaged.name in result.output
    assert stored_versions(project) == before
    assert damaged.read_bytes() == damaged_bytes


def test_a_damaged_cache_manifest_is_set_aside_and_every_node_reruns(project: Path) -> None:
    manifest = project / OUTPUT / ".cache_manifest.json"
    manifest.write_text("{not json")
    before = stored_versions(project)
    result = kedro_run(project, "--pipelines", "report")
    assert result.exit_code == 0, result.output
    # Every report node ran again: each persisted figure has one more version.
    added = sorted(set(stored_versions(project)) - set(before))
    assert added and all(name.startswith("08_reporting/") for name in added)
    assert '"nodes"' in manifest.read_text()  # written anew, with this run's records


def test_a_damaged_tracking_store_is_one_error_naming_it(project: Path) -> None:
    store = project / OUTPUT / "09_tracking" / "mlflow.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"this is not an SQLite database, but a page of text" * 100)
    before = stored_versions(project)
    result = kedro_run(project, "--pipelines", "report", "--params", "tracking.enabled=true")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "Error:" in result.output and f"{store} cannot be used" in result.output
    assert stored_versions(project) == before
    store.unlink()  # and once it is moved aside, the next run goes ahead with a new store
    again = kedro_run(project, "--pipelines", "report", "--params", "tracking.enabled=true")
    assert again.exit_code == 0, again.output
    assert store.stat().st_size > 0
