"""The MLflow tracking hook, imported only when a run starts."""

import os
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node


class TrackingHook:
    """MLflow tracking (`tracking.MlflowTrackingHook`), imported when a run starts.

    MLflow and kedro-mlflow take seconds to import, which `kedro --help`, `kedro prune` or
    `kedro viz` would pay for nothing: the context and catalog handed to this hook before a
    run are handed on to the tracking hook when the pipeline starts.
    """

    def __init__(self) -> None:
        self._hook: Any = None
        self._before_run: list[tuple[str, dict[str, Any]]] = []

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._hook = None
        self._before_run = [("after_context_created", {"context": context})]

    @hook_impl
    def after_catalog_created(  # noqa: PLR0913, PLR0917 - Kedro's hook specification
        self,
        catalog: DataCatalog,
        conf_catalog: dict[str, Any],
        conf_creds: dict[str, Any],
        parameters: dict[str, Any],
        save_version: str,
        load_versions: dict[str, str],
    ) -> None:
        # kedro-mlflow's hook renames its own metric datasets here, and lists every dataset to
        # find them, which would import every dataset type (TensorFlow's included) for a run
        # that needs none of them: handed on only where the catalog has such a dataset.
        types = [
            entry.get("type", "") for entry in conf_catalog.values() if isinstance(entry, dict)
        ]
        if not any(str(kind).startswith("kedro_mlflow.") for kind in types):
            return
        arguments = {
            "catalog": catalog,
            "conf_catalog": conf_catalog,
            "conf_creds": conf_creds,
            "parameters": parameters,
            "save_version": save_version,
            "load_versions": load_versions,
        }
        self._before_run.append(("after_catalog_created", arguments))

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        # MLflow's own telemetry stays off, also for a run started without the Makefile.
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from fashion_vae.hooks.tracking import MlflowTrackingHook  # noqa: PLC0415

        self._hook = MlflowTrackingHook()
        for name, arguments in self._before_run:
            getattr(self._hook, name)(**arguments)
        self._hook.before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)

    @hook_impl
    def before_node_run(self, node: Node, catalog: DataCatalog, inputs: dict[str, Any]) -> None:
        if self._hook is not None:
            self._hook.before_node_run(node=node, catalog=catalog, inputs=inputs)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if self._hook is not None:
            self._hook.after_node_run(node=node)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if self._hook is not None:
            self._hook.after_dataset_saved(dataset_name=dataset_name, data=data)

    # First of all the hooks: the outputs are recorded before RunLockHook lets another run
    # write newer versions, and before kedro-mlflow closes the run.
    @hook_impl(tryfirst=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if self._hook is not None:
            self._hook.after_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)

    @hook_impl(tryfirst=True)
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if self._hook is not None:
            self._hook.on_pipeline_error(
                error=error, run_params=run_params, pipeline=pipeline, catalog=catalog
            )
