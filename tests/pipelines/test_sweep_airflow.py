"""The sweep's Airflow DAG, written by kedro-airflow from the project's template and run by
Airflow itself (`airflow dags test`, on SQLite in a temporary AIRFLOW_HOME)."""

import functools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
from sweep_support import MEMBERS, PROJECT_ROOT, kedro, tracked_copy, versions


def test_the_airflow_dag_runs_in_airflow_in_one_mlflow_record_and_kedro_reuses_its_work(
    sweep_project: Path, copy_of: Callable, tmp_path: Path
) -> None:
    project = tracked_copy(sweep_project, copy_of, tmp_path / "project")
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
    create = kedro(
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
    sequential, in_airflow = versions(reporting / "comparison.csv")
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
    again = kedro(project, "run", "--env=test", "--pipelines=sweep")
    assert again.returncode == 0, again.stderr[-3000:]
    nodes = sum(map(int, re.findall(r"Cache: reused 0 nodes, ran (\d+)", output)))
    assert f"Cache: reused {nodes} nodes, ran 0" in again.stdout + again.stderr
