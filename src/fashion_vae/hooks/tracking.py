"""Every `kedro run` as one MLflow run, through kedro-mlflow (docs/guide.md, "Tracking runs").

kedro-mlflow's `MlflowHook` reads `conf/<env>/mlflow.yml`, opens the run before the first
node and closes it after the last, FAILED if the pipeline raised. `MlflowTrackingHook` is that
hook with this project's record of a run:

- every parameter, flattened to dotted keys, once for the whole run: kedro-mlflow logs a
  node's parameters when the node runs, so a node the cache reuses would log none, and a
  section Kedro validated arrives as a Pydantic model, not a dict;
- the training history, one metric step per epoch, and the trained model as two pyfunc
  models, its encoder and its decoder (`fashion_vae.serving`), as the training node saves them;
- every number of `metrics.json`, the report, its figures and the history CSV as artifacts;
- tags: the git commit of the project, the preset, Kedro's run id (kedro-mlflow's `run_id`
  tag), the `vae_model` version used and whether this run trained it or the cache reused it
  (then also the MLflow run that trained it), and the nodes the cache reused.

Not kedro-mlflow's `pipeline_ml_factory`: its `PipelineML` is logged only when it is the whole
pipeline a run executes, and `kedro run` sums every pipeline into a plain `Pipeline`
(kedro-mlflow issue #690 fixed only the sum with an empty pipeline); its model would also log
a training whose node the cache reused, and it cloudpickles a `KedroPipelineModel`, while
the model here loads without unpickling anything. So the training node's model is logged
directly with `mlflow.pyfunc.log_model` (`fashion_vae.serving.log_vae_models`).

`kedro run --params tracking.enabled=false` runs without MLflow: no store is opened or written.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro_mlflow.framework.hooks import MlflowHook
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
from omegaconf import OmegaConf
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from fashion_vae.datasets.kedro_api import described_location, is_local_file, load_path
from fashion_vae.errors import ProjectError
from fashion_vae.hooks.kedro_mlflow_api import is_mlflow_enabled, log_long_param
from fashion_vae.outputs import output_dir
from fashion_vae.parameters import TrackingParameters

logger = logging.getLogger(__name__)

# `${project_root:}` in mlflow.yml: the project's folder, so that the SQLite store is found from
# any working directory (kedro-mlflow resolves a relative path, but not inside a sqlite URI).
PROJECT_ROOT_RESOLVER = "project_root"
MODEL_DATASET = "vae_model"
HISTORY_DATASET = "training_history"
METRICS_DATASET = "metrics"
# What the run's pipeline writes in this folder (metrics.json, report.html, the figures, the
# history CSV), whether the node ran or was reused, is logged as artifacts under `reporting/`.
REPORTING_FOLDER = "08_reporting"
TAG = "fashion_vae."
GIT_COMMIT_TAG = "mlflow.source.git.commit"
RUNNER_REPR = re.compile(r"<([\w.]+) object at 0x[0-9a-f]+>")
# What Airflow tells a task's process about the task (MLflow tag → environment variable).
AIRFLOW_CONTEXT = {
    "airflow.dag_id": "AIRFLOW_CTX_DAG_ID",
    "airflow.run_id": "AIRFLOW_CTX_DAG_RUN_ID",
    "airflow.task_id": "AIRFLOW_CTX_TASK_ID",
}


def flatten(nested: dict[str, Any]) -> dict[str, Any]:
    """A nested dict's leaves by dotted path (lists are leaves; empty dicts have none)."""
    return pd.json_normalize(nested, sep=".").to_dict("records")[0] if nested else {}


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Every number of a nested metrics dict, by dotted path; text, lists and nulls are left out."""
    flat = flatten(metrics)
    return {
        key: float(value)
        for key, value in flat.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def history_steps(history: pd.DataFrame) -> list[tuple[int, dict[str, float]]]:
    """Each epoch's numbers of the training history as (epoch, {"history/<column>": value})."""
    columns = [c for c in history.columns if c != "epoch"]
    return [
        (
            int(row["epoch"]),
            {f"history/{c}": float(row[c]) for c in columns if math.isfinite(row[c])},
        )
        for _, row in history.iterrows()
    ]


def _plain(value: Any) -> Any:
    """Parameters as plain dicts, lists and scalars: validated sections as their JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def git_commit(project_path: Path) -> tuple[str, bool] | None:
    """The project's HEAD commit and whether tracked files differ from it; None outside git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(project_path), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()

    try:
        return git("rev-parse", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None


class TrackingStoreError(ProjectError):
    """The MLflow store of the run cannot be opened or written."""


@contextlib.contextmanager
def store_errors(uri: Callable[[], str]) -> Iterator[None]:
    """Turn a store that MLflow cannot open (damaged, locked, foreign) into one clear error."""
    try:
        yield
    except (MlflowException, SQLAlchemyError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrackingStoreError(
            f"the MLflow tracking store {uri()} cannot be used: {reason}. Move it aside to start "
            "a new store, or run without tracking (--params tracking.enabled=false)."
        ) from error


class MlflowTrackingHook(MlflowHook):
    """kedro-mlflow's hook with this project's parameters, metrics, artifacts, model and tags."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = False
        self._project_path = Path()
        self._catalog: DataCatalog | None = None
        self._ran: set[str] = set()
        self._reporting_dir = Path()

    @property
    def _tracking(self) -> bool:
        """Whether this run is tracked: on in `tracking.enabled` and in kedro-mlflow's config."""
        return self._enabled and is_mlflow_enabled(self) and self.run_id is not None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._project_path = Path(context.project_path)
        parameters = TrackingParameters.model_validate(context.params.get("tracking", {}))
        self._enabled = parameters.enabled
        self._max_request_rows = parameters.max_request_rows
        self.run_id = None
        if not self._enabled:
            logger.info("MLflow tracking is off for this run (tracking.enabled is false)")
            return
        self._reporting_dir = (output_dir(context) / REPORTING_FOLDER).resolve()
        OmegaConf.register_resolver(
            PROJECT_ROOT_RESOLVER, self._project_path.as_posix, replace=True
        )
        # kedro-mlflow reads mlflow.yml here, and opens the store.
        with store_errors(lambda: context.config_loader["mlflow"]["server"]["mlflow_tracking_uri"]):
            super().after_context_created(context)
        logger.info("MLflow tracking to %s", self.mlflow_config.server.mlflow_tracking_uri)

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        self._ran = set()
        self._catalog = catalog
        self.run_id = None
        if not self._enabled:
            return
        with store_errors(lambda: self.mlflow_config.server.mlflow_tracking_uri):
            super().before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
        if not self._tracking:
            return
        # Sections that Kedro validated are Pydantic models, with their defaults filled in.
        parameters = _plain(catalog.load("parameters"))
        flat = {
            self.sanitize_param_name(name): value for name, value in flatten(parameters).items()
        }
        # One batch; a value over MLflow's length limit goes as long_params_strategy says.
        mlflow.log_params({k: v for k, v in flat.items() if len(str(v)) <= MAX_PARAM_VAL_LENGTH})
        for name, value in flat.items():
            if len(str(value)) > MAX_PARAM_VAL_LENGTH:
                log_long_param(self, name, value)
        tags = {f"{TAG}preset": parameters.get("training", {}).get("preset")}
        # An Airflow task's run: the DAG run it belongs to, so that its tasks are found together.
        tags |= {tag: os.environ.get(variable) for tag, variable in AIRFLOW_CONTEXT.items()}
        # Kedro records a runner instance as its repr ("<….CachingRunner object at 0x…>").
        if runner := RUNNER_REPR.fullmatch(str(run_params.get("runner"))):
            tags["runner"] = runner[1]
        commit = git_commit(self._project_path)
        if commit is None:
            # MLflow tags the commit of the running script's repository, which is not the
            # project's when the project is not in git: no commit rather than a wrong one.
            client = MlflowClient()
            if GIT_COMMIT_TAG in client.get_run(self.run_id).data.tags:
                client.delete_tag(self.run_id, GIT_COMMIT_TAG)
        else:
            tags |= {GIT_COMMIT_TAG: commit[0], f"{TAG}git_dirty": str(commit[1]).lower()}
        mlflow.set_tags({key: value for key, value in tags.items() if value is not None})

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog, inputs: dict[str, Any]) -> None:
        # kedro-mlflow reopens the run in a node's thread (ThreadRunner) and logs the node's
        # parameters; they were all logged in before_pipeline_run, so only the first is kept.
        if self._tracking and (
            mlflow.active_run() is None or mlflow.active_run().info.run_id != self.run_id
        ):
            mlflow.start_run(run_id=self.run_id, nested=self.mlflow_config.tracking.run.nested)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        self._ran.add(node.name)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if not self._tracking:
            return
        if dataset_name == HISTORY_DATASET:
            for epoch, values in history_steps(data):
                mlflow.log_metrics(values, step=epoch)
        elif dataset_name == MODEL_DATASET:
            version = self._catalog.get(MODEL_DATASET).resolve_save_version()
            mlflow.set_tags({f"{TAG}training": "ran", f"{TAG}vae_model_version": version})
            # Keras, only where a run trains a model.
            from fashion_vae.serving import MODELS, log_vae_models  # noqa: PLC0415

            log_vae_models(data, self._max_request_rows)
            for name in MODELS:
                logger.info("Logged the model as runs:/%s/%s", self.run_id, name)

    # First of all the hooks: the outputs are recorded before RunLockHook lets another run
    # write newer versions, and before kedro-mlflow closes the run.
    @hook_impl(tryfirst=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if not self._enabled:
            return
        if self._tracking:
            self._record_outputs(pipeline, catalog)
        super().after_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)

    @hook_impl(tryfirst=True)
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if not self._enabled:
            return
        if self._tracking:
            # What ran and why it stopped; no metrics, since none were computed.
            mlflow.set_tags(
                {
                    f"{TAG}error": f"{type(error).__name__}: {error}"[:5000],
                    f"{TAG}nodes_ran": ", ".join(sorted(self._ran)) or "none",
                }
            )
        super().on_pipeline_error(
            error=error, run_params=run_params, pipeline=pipeline, catalog=catalog
        )

    def _record_outputs(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        """Tags of what was reused, the model version, the metrics and the artifacts."""
        reused = sorted(node.name for node in pipeline.nodes if node.name not in self._ran)
        tags = {f"{TAG}reused_nodes": ", ".join(reused) or "none"}
        producers = {output: node for node in pipeline.nodes for output in node.outputs}
        model_node = producers.get(MODEL_DATASET)
        if model_node is None and MODEL_DATASET in pipeline.inputs():
            tags |= {f"{TAG}training": "not in this run"} | self._model_used(catalog)
        elif model_node is not None and model_node.name not in self._ran:
            tags |= {f"{TAG}training": "reused"} | self._model_used(catalog)
        mlflow.set_tags(tags)
        # The run's metrics, and a sweep member's (`<member>.metrics`) under its name.
        for name in sorted(producers):
            if name == METRICS_DATASET or name.endswith(f".{METRICS_DATASET}"):
                prefix = name.removesuffix(METRICS_DATASET)
                metrics = flat_metrics(catalog.load(name))
                mlflow.log_metrics({prefix + key: value for key, value in metrics.items()})
        for path, folder in self._reporting_files(producers, catalog):
            mlflow.log_artifact(str(path), artifact_path=Path("reporting", folder).as_posix())

    def _reporting_files(
        self, outputs: Iterable[str], catalog: DataCatalog
    ) -> list[tuple[Path, str]]:
        """The latest version's file of each output stored in the reporting folder, and its
        subfolder there (a sweep's: `sweep/<member>`)."""
        files = set()
        for name in outputs:
            dataset = catalog.get(name) if name in catalog else None
            if not is_local_file(dataset):
                continue
            folder = Path(described_location(dataset, "")).parent.resolve()
            if not folder.is_relative_to(self._reporting_dir):
                continue
            # Kedro's own resolution of the version a load reads: this run's, or the reused one.
            path = load_path(dataset)
            if path is None:
                continue
            files.add((path, folder.relative_to(self._reporting_dir).as_posix()))
        return sorted(files)

    def _model_used(self, catalog: DataCatalog) -> dict[str, str]:
        """The `vae_model` version this run read, and the MLflow run that trained it, if any."""
        version = catalog.get(MODEL_DATASET).resolve_load_version()
        tags = {f"{TAG}vae_model_version": version}
        trained = mlflow.search_runs(
            experiment_ids=[mlflow.get_run(self.run_id).info.experiment_id],
            filter_string=(
                f"tags.`{TAG}vae_model_version` = '{version}' and tags.`{TAG}training` = 'ran'"
            ),
            output_format="list",
            max_results=1,
        )
        if trained:
            tags[f"{TAG}trained_in_run"] = trained[0].info.run_id
        return tags
