"""The sweep pipeline: members' parameters, the two-member sweep of the `test` environment end to
end, ParallelRunner against the sequential run, and the Airflow DAG that kedro-airflow writes."""

import ast
import importlib.util
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro_airflow.plugin import commands as airflow_commands
from pydantic import ValidationError

from fashion_vae.cache import CachingParallelRunner
from fashion_vae.parameters import SweepParameters
from fashion_vae.sweep import SweepConfigError, with_member_parameters

MEMBERS = ["latent_2", "latent_16"]  # conf/test/parameters_sweep.yml

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


def test_members_get_the_training_section_as_configured_with_their_own_settings() -> None:
    parameters = {
        "training": {"latent_dim": 16, "beta": 1.0, "presets": {"default": {"epochs": 2}}},
        "sweep": {
            "members": [
                {"name": "small", "training": {"latent_dim": 2}},
                {"name": "short", "training": {"presets": {"default": {"epochs": 1}}}},
            ]
        },
    }
    parameters["training"]["checkpoint_dir"] = "data/06_models/training_checkpoint"
    derived = with_member_parameters(parameters, {"training": {"beta": 0.5}})
    assert derived["small"]["training"] == {
        **parameters["training"],
        "latent_dim": 2,
        "beta": 0.5,  # --params reach the members
        "checkpoint_dir": "data/06_models/training_checkpoint_small",
    }
    assert derived["short"]["training"]["presets"] == {"default": {"epochs": 1}}
    assert derived["short"]["training"]["latent_dim"] == 16
    assert parameters["training"]["beta"] == 1.0  # the section itself is left as configured
    assert "small" not in parameters  # a new mapping: the loader may hand its own out again

    parameters["sweep"]["members"].append({"name": "training", "training": {}})
    with pytest.raises(SweepConfigError, match="'training' has the name of the parameter section"):
        with_member_parameters(parameters)


@pytest.fixture(scope="module")
def sweep_project(
    tmp_path_factory: pytest.TempPathFactory,
    complete_run: SimpleNamespace,
    copy_of: Callable,
) -> Path:
    """A copy of the complete run of the test environment, with one sequential sweep run in a
    fresh process, as each parallel worker runs: TensorFlow's thread pools, which change the
    numerics, are fixed by a process's first op, so an in-process run would depend on which
    tests ran before it in this process."""
    project = copy_of(complete_run.project, tmp_path_factory.mktemp("sweep") / "project")
    subprocess.run([sys.executable, "-c", SEQUENTIAL_SWEEP, str(project)], check=True, timeout=300)
    return project


def _versions(folder: Path) -> list[Path]:
    """The files of every version of a versioned dataset, oldest first."""
    return sorted(folder.glob(f"*/{folder.name}"))


def test_a_sweep_of_more_than_sixteen_members_is_refused_by_name() -> None:
    members = [{"name": f"m{index}", "training": {"latent_dim": 2}} for index in range(17)]
    with pytest.raises(ValidationError, match=r"for sweep\nmembers\n  List should have at most 16"):
        SweepParameters.model_validate({"members": members})
    assert len(SweepParameters.model_validate({"members": members[:16]}).members) == 16


def test_the_test_environment_sweeps_two_members(sweep_project: Path) -> None:
    reporting = sweep_project / "data" / "test_env" / "08_reporting" / "sweep"
    (table_file,) = _versions(reporting / "comparison.csv")
    table = pd.read_csv(table_file)
    assert list(table["member"]) == MEMBERS
    assert list(table["latent_dim"]) == [2, 16]
    assert list(table["epochs"]) == [2, 2]  # conf/test trains 2 epochs
    numbers = table.drop(columns="member")
    assert numbers.notna().all().all(), table.T
    assert (table["active_units"] <= table["latent_dim"]).all()
    assert _versions(reporting / "comparison.png")
    # The 2-D figure belongs to the latent_dim 2 member alone.
    assert _versions(reporting / "latent_2" / "latent_space.png")
    assert not (reporting / "latent_16" / "latent_space.png").exists()
    # Each member's outputs are versioned under its own name; the plain pipelines' are untouched.
    models = sweep_project / "data" / "test_env" / "06_models"
    for member in MEMBERS:
        assert _versions(models / "sweep" / member / "vae.keras")
        assert _versions(reporting / member / "metrics.json")
    assert len(_versions(models / "vae.keras")) == 1  # the complete run's, and no other


def test_parallel_runner_gives_the_sequential_table(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="test") as session:
        # No cache: every node runs again, two members at a time.
        session.run(pipeline_names=["sweep"], runner=CachingParallelRunner(enabled=False))
    reporting = project / "data" / "test_env" / "08_reporting" / "sweep"
    sequential, parallel = _versions(reporting / "comparison.csv")
    pd.testing.assert_frame_equal(pd.read_csv(parallel), pd.read_csv(sequential))


def test_kedro_airflow_writes_one_task_per_sweep_node(
    sweep_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kedro-airflow renders a Jinja template: neither Airflow nor the network is needed.
    assert importlib.util.find_spec("airflow") is None

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("this test allows no network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    metadata = bootstrap_project(sweep_project)
    dags = sweep_project / "airflow_dags"
    result = CliRunner().invoke(
        airflow_commands,
        ["airflow", "create", "--pipelines=sweep", "--env=test", f"--target-dir={dags}"],
        obj=metadata,
    )
    assert result.exit_code == 0, result.output
    source = (dags / "fashion_vae_test_sweep_dag.py").read_text()
    tree = ast.parse(source)  # valid Python
    runs = {
        ast.literal_eval(call.keywords[0].value)[0]
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "_run_kedro_node"
        if call.keywords and call.keywords[0].arg == "node_names"
    }
    sweep_nodes = {node.name for node in pipelines["sweep"].nodes}
    assert runs == sweep_nodes
    for member in MEMBERS:
        assert f"{member}.training.train_vae" in runs
        assert f"{member}.evaluate.assemble_metrics" in runs
    assert "latent_2.plot_latent_space" in runs and "latent_16.plot_latent_space" not in runs
