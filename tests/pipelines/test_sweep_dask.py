"""The sweep on a real Dask scheduler and workers, started as users start them (docs/guide.md,
"Beyond one machine"); every process listens on 127.0.0.1 and is stopped at the end."""

import contextlib
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
from sweep_support import MEMBERS, kedro, tracked_copy, versions

from fashion_vae.runtime.tensorflow_threads import ENVIRONMENT

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


def test_the_dask_runner_gives_the_sequential_table_on_two_workers_in_one_mlflow_run(
    sweep_project: Path, dask_cluster: SimpleNamespace, copy_of: Callable, tmp_path: Path
) -> None:
    project = tracked_copy(sweep_project, copy_of, tmp_path / "project")
    dask_run = (
        "run",
        "--env=test",
        "--pipelines=sweep",
        "--runner=DaskRunner",
        f"--runner-params=address={dask_cluster.address}",
    )
    first = kedro(project, *dask_run, "--no-cache")
    assert first.returncode == 0, first.stderr[-5000:]
    log = first.stdout + first.stderr
    reporting = project / "data" / "test_env" / "08_reporting" / "sweep"
    sequential, on_dask = versions(reporting / "comparison.csv")
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
    second = kedro(project, *dask_run)
    assert second.returncode == 0, second.stderr[-5000:]
    (nodes,) = re.findall(r"Cache: reused 0 nodes, ran (\d+)", log)
    assert f"Cache: reused {nodes} nodes, ran 0" in second.stdout + second.stderr


def test_a_node_whose_dask_worker_is_killed_runs_again_on_another(
    sweep_project: Path, dask_cluster: SimpleNamespace, copy_of: Callable, tmp_path: Path
) -> None:
    project = copy_of(sweep_project, tmp_path / "project")
    models = project / "data" / "test_env" / "06_models" / "sweep" / "latent_2" / "vae.keras"
    before = versions(models)
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
    (new,) = set(versions(models)) - set(before)
    assert keras.saving.load_model(new, compile=False, safe_mode=True).name
    assert all(path.parent.name[0].isdigit() for path in versions(models))


def test_an_unreachable_scheduler_is_one_error_within_thirty_seconds_writing_nothing(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = tracked_copy(sweep_project, copy_of, tmp_path / "project")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{unused.getsockname()[1]}"  # nothing listens there
    files = {p: p.stat().st_mtime_ns for p in (project / "data").rglob("*")}
    started = time.monotonic()
    result = kedro(
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
        result = kedro(
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
