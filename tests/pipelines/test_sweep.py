"""The sweep pipeline: members' parameters, the two-member sweep of the `test` environment end to
end, ParallelRunner and a real Dask cluster against the sequential run, and the Airflow DAG that
kedro-airflow writes."""

import contextlib
import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import keras
import mlflow
import pandas as pd
import pytest
from distributed import Client
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from pydantic import ValidationError

from fashion_vae.cache import CachingParallelRunner
from fashion_vae.parameters import SweepParameters
from fashion_vae.sweep import SweepConfigError, with_member_parameters
from fashion_vae.tensorflow_threads import ENVIRONMENT

MEMBERS = ["latent_2", "latent_16"]  # conf/test/parameters_sweep.yml
PROJECT_ROOT = Path(__file__).resolve().parents[2]

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


def test_the_airflow_dag_runs_in_airflow_in_one_mlflow_record_and_kedro_reuses_its_work(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = _tracked_copy(sweep_project, copy_of, tmp_path / "project")
    (project / "data" / "test_env" / ".cache_manifest.json").unlink()  # every node runs again
    home = tmp_path / "airflow"
    dags = home / "dags"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "SCARF_ANALYTICS": "false",
        "COLUMNS": "200",
    }
    template = PROJECT_ROOT / "airflow" / "dag_template.j2"
    create = _kedro(
        project,
        "airflow",
        "create",
        "--pipelines=sweep",
        "--env=test",
        "--group-by=namespace",
        f"--jinja-file={template}",
        f"--target-dir={dags}",
    )
    assert create.returncode == 0, create.stderr[-3000:]
    source = (dags / "fashion_vae_test_sweep_dag.py").read_text()
    # One task per member and one for the comparison: no MemoryDataset between two tasks.
    assert re.findall(r'_run_kedro_node\(namespaces=\["(\w+)"\]\)', source) == sorted(
        [*MEMBERS, "sweep"]
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    run = functools.partial(
        subprocess.run, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    migrated = run([airflow, "db", "migrate"], timeout=300)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    tested = run([airflow, "dags", "test", "fashion_vae_test_sweep"], timeout=900)
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0 and "state=success" in output, output[-5000:]
    reporting = project / "data" / "test_env" / "08_reporting" / "sweep"
    sequential, in_airflow = _versions(reporting / "comparison.csv")
    pd.testing.assert_frame_equal(pd.read_csv(in_airflow), pd.read_csv(sequential))
    # Its three tasks' MLflow runs are one DAG run's, and the comparison task logged the table.
    mlflow.set_tracking_uri(f"sqlite:///{project / 'data/test_env/09_tracking/mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["fashion_vae_test"], output_format="list")
    assert {r.data.tags["airflow.task_id"] for r in runs} == {"latent-2", "latent-16", "sweep"}
    assert {r.data.tags["airflow.dag_id"] for r in runs} == {"fashion_vae_test_sweep"}
    assert len({r.data.tags["airflow.run_id"] for r in runs}) == 1
    (comparison,) = [r for r in runs if r.data.tags["airflow.task_id"] == "sweep"]
    artifacts = mlflow.MlflowClient().list_artifacts(comparison.info.run_id, "reporting/sweep")
    assert "reporting/sweep/comparison.csv" in {a.path for a in artifacts}
    # The tasks recorded what they made: a plain run reuses every node.
    again = _kedro(project, "run", "--env=test", "--pipelines=sweep")
    assert again.returncode == 0, again.stderr[-3000:]
    nodes = len(pipelines["sweep"].nodes)
    assert f"Cache: reused {nodes} nodes, ran 0" in again.stdout + again.stderr


# The Dask runner, on a real scheduler and workers started as users start them (README,
# "Beyond one machine"); every process listens on 127.0.0.1 and is stopped at the end.
DASK = Path(sys.executable).with_name("dask")


def _start(folder: Path, name: str, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    """`dask ARGS` in its own process group, its output in `folder/<name>.log`."""
    with (folder / f"{name}.log").open("w") as log:
        return subprocess.Popen(
            [*prefix, str(DASK), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,  # not the project: the runner's tasks find it themselves
            start_new_session=True,
            # As from a new shell: not the pools an in-process run sized in this process.
            env={k: v for k, v in os.environ.items() if k not in ENVIRONMENT.values()},
        )


def _stop(processes: list[subprocess.Popen]) -> None:
    """Stop each process group, killing what does not end within 20 s."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _worker(address: str, name: str) -> tuple[str, ...]:
    return (
        "worker",
        address,
        "--host",
        "127.0.0.1",
        "--nthreads",
        "1",
        "--no-dashboard",
        "--name",
        name,
    )


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """`dask scheduler --host 127.0.0.1` and two `dask worker` processes (each with its nanny)."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            _start(
                folder,
                "scheduler",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            )
        )
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        processes += [_start(folder, name, *_worker(address, name)) for name in ("w1", "w2")]
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield SimpleNamespace(address=address, folder=folder, processes=processes)
    finally:
        _stop(processes)


def _kedro(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`kedro ARGS` as a user types it in `project` (exit code and all output)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("kedro")), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},  # one log record a line
    )


def _tracked_copy(sweep_project: Path, copy_of: Callable, destination: Path) -> Path:
    project = copy_of(sweep_project, destination)
    (project / "conf" / "test" / "parameters_tracking.yml").write_text(
        "tracking:\n  enabled: true\n  max_request_rows: 64\n"
    )
    return project


def test_the_dask_runner_gives_the_sequential_table_on_two_workers_in_one_mlflow_run(
    sweep_project: Path, dask_cluster: SimpleNamespace, copy_of: Callable, tmp_path: Path
) -> None:
    project = _tracked_copy(sweep_project, copy_of, tmp_path / "project")
    dask_run = (
        "run",
        "--env=test",
        "--pipelines=sweep",
        "--runner=DaskRunner",
        f"--runner-params=address={dask_cluster.address}",
    )
    first = _kedro(project, *dask_run, "--no-cache")
    assert first.returncode == 0, first.stderr[-5000:]
    log = first.stdout + first.stderr
    reporting = project / "data" / "test_env" / "08_reporting" / "sweep"
    sequential, on_dask = _versions(reporting / "comparison.csv")
    pd.testing.assert_frame_equal(pd.read_csv(on_dask), pd.read_csv(sequential))
    # Each member's training ran as a Dask task, the two on different workers.
    workers = dict(re.findall(r"(\S+\.training\.train_vae) ran on Dask worker (\S+)", log))
    assert workers.keys() == {f"{member}.training.train_vae" for member in MEMBERS}, log
    assert len(set(workers.values())) == 2, workers
    # Its hooks ran on the worker: the threads it sized for itself are in its own log.
    worker_logs = "".join((dask_cluster.folder / f"{w}.log").read_text() for w in ("w1", "w2"))
    assert "TensorFlow threads" in worker_logs
    # One MLflow run holds every member's metrics and the comparison.
    mlflow.set_tracking_uri(f"sqlite:///{project / 'data/test_env/09_tracking/mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["fashion_vae_test"], output_format="list")
    assert run.data.tags["runner"] == "fashion_vae.cache.runner.CachingDaskRunner"
    table = pd.read_csv(on_dask).set_index("member")
    for member in MEMBERS:
        metric = run.data.metrics[f"{member}.elbo.negative_elbo"]
        assert metric == pytest.approx(table.loc[member, "negative_elbo"])
    artifacts = {
        a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "reporting/sweep")
    }
    assert "reporting/sweep/comparison.csv" in artifacts
    # A second run reuses every node; the cache manifest is the driver's.
    second = _kedro(project, *dask_run)
    assert second.returncode == 0, second.stderr[-5000:]
    nodes = len(pipelines["sweep"].nodes)
    assert f"Cache: reused {nodes} nodes, ran 0" in second.stdout + second.stderr


def test_a_node_whose_dask_worker_is_killed_runs_again_on_another(
    sweep_project: Path, dask_cluster: SimpleNamespace, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    models = project / "data" / "test_env" / "06_models" / "sweep" / "latent_2" / "vae.keras"
    before = _versions(models)
    run = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("kedro")),
            "run",
            "--env=test",
            "--no-cache",
            "--pipelines=sweep",
            "--nodes=latent_2.training.train_vae",
            "--runner=DaskRunner",
            f"--runner-params=address={dask_cluster.address}",
        ],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        with Client(dask_cluster.address, timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                assert time.monotonic() < deadline and run.poll() is None, "training never ran"
                busy = [
                    worker
                    for worker, keys in client.processing().items()
                    if any(str(key).startswith("latent_2.training.train_vae-") for key in keys)
                ]
                if busy:
                    break
                time.sleep(0.1)
            time.sleep(2)  # well into the training
            pids = client.run(os.getpid, workers=busy)
        os.kill(pids[busy[0]], signal.SIGKILL)
        output, _ = run.communicate(timeout=300)
    finally:
        _stop([run])
    assert run.returncode == 0, output[-5000:]
    (worker,) = re.findall(r"latent_2\.training\.train_vae ran on Dask worker (\S+)", output)
    assert worker != busy[0]  # the killed worker's address is gone with it
    # One new version, complete, and no staging folder left as a version.
    (new,) = set(_versions(models)) - set(before)
    assert keras.saving.load_model(new, compile=False, safe_mode=True).name
    assert all(path.parent.name[0].isdigit() for path in _versions(models))


def test_an_unreachable_scheduler_is_one_error_within_thirty_seconds_writing_nothing(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = _tracked_copy(sweep_project, copy_of, tmp_path / "project")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{unused.getsockname()[1]}"  # nothing listens there
    files = {p: p.stat().st_mtime_ns for p in (project / "data").rglob("*")}
    started = time.monotonic()
    result = _kedro(
        project,
        "run",
        "--env=test",
        "--pipelines=sweep",
        "--runner=DaskRunner",
        f"--runner-params=address={address}",
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f"cannot reach the Dask scheduler at {address}" in error
    assert {p: p.stat().st_mtime_ns for p in (project / "data").rglob("*")} == files


def test_a_worker_that_cannot_see_the_output_folder_is_refused_naming_it(
    sweep_project: Path, dask_cluster: SimpleNamespace, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    output = project / "data" / "test_env"
    # A worker on "another machine": its own empty folder where the driver's outputs are.
    hide = f'mount -t tmpfs none {output} && exec "$0" "$@"'
    check = subprocess.run(
        ["unshare", "-m", "sh", "-c", hide, "true"], capture_output=True, check=False
    )
    if check.returncode != 0:
        pytest.skip(f"cannot make a private mount namespace here: {check.stderr.decode()[:200]}")
    folder = tmp_path / "blind"
    folder.mkdir()
    prefix = ("unshare", "-m", "sh", "-c", hide)
    blind = _start(folder, "worker", *_worker(dask_cluster.address, "blind"), prefix=prefix)
    try:
        with Client(dask_cluster.address, timeout=30) as client:
            client.wait_for_workers(3, timeout=60)
            (blind_address,) = [
                address
                for address, worker in client.scheduler_info(n_workers=-1)["workers"].items()
                if worker["name"] == "blind"
            ]
        result = _kedro(
            project,
            "run",
            "--env=test",
            "--pipelines=sweep",
            "--no-cache",
            "--runner=DaskRunner",
            f"--runner-params=address={dask_cluster.address}",
        )
    finally:
        _stop([blind])
    assert result.returncode == 1, result.stderr[-3000:]
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f"Dask worker {blind_address} cannot see {output}" in error
    assert not list(output.glob(".dask-probe-*"))


def test_two_members_run_side_by_side_as_two_sessions_and_a_third_run_reuses_both(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    kedro = str(Path(sys.executable).with_name("kedro"))
    sessions = [
        subprocess.Popen(
            [kedro, "run", "--env=test", "--pipelines=sweep", f"--namespaces={member}",
             "--no-cache"],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for member in MEMBERS
    ]  # fmt: skip
    outputs = [session.communicate(timeout=300)[0] for session in sessions]
    for session, output in zip(sessions, outputs, strict=True):
        assert session.returncode == 0, output[-3000:]
    models = project / "data" / "test_env" / "06_models" / "sweep"
    for member in MEMBERS:
        assert len(_versions(models / member / "vae.keras")) == 2  # the fixture's, and this one
    third = _kedro(project, "run", "--env=test", "--pipelines=sweep")
    assert third.returncode == 0, third.stderr[-3000:]
    log = third.stdout + third.stderr
    member_nodes = [n for n in pipelines["sweep"].nodes if n.namespace.split(".")[0] in MEMBERS]
    for node in member_nodes:
        assert f"reused {node.name} (unchanged)" in log, node.name


@pytest.mark.parametrize(
    ("option", "listed"),
    [
        ("--namespaces=sweep.latent_2", "The namespaces there are: latent_16, latent_2, sweep"),
        ("--nodes=train_vae", "The nodes there are: latent_16.evaluate.assemble_metrics"),
    ],
)
def test_a_selection_that_names_nothing_is_one_error_listing_what_there_is(
    sweep_project: Path, option: str, listed: str
) -> None:
    result = _kedro(sweep_project, "run", "--env=test", "--pipelines=sweep", option, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "Pipeline does not contain nodes" in error
    assert listed in result.stderr
