"""Project hooks: checks before the first node, one writer at a time, thread pools, timings.

Parameters are validated by Kedro itself, from the Pydantic models in the node signatures.
"""

import importlib
import json
import logging
import pkgutil
import time
from pathlib import Path
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

import fashion_vae.pipelines
from fashion_vae.datasets import IDXDataset
from fashion_vae.datasets.atomic import write_atomically_local
from fashion_vae.datasets.kedro_api import described_location
from fashion_vae.errors import MissingInputError, ProjectError
from fashion_vae.outputs import LOAD_VERSIONS_NAME, RAW_DIGESTS_NAME, output_dir
from fashion_vae.outputs.integrity import DigestCache, check_raw_files
from fashion_vae.outputs.run_lock import RunLock
from fashion_vae.parameters import DataProcessingParameters
from fashion_vae.runtime.tensorflow_threads import apply_tensorflow_threads

logger = logging.getLogger(__name__)


def _how_to_produce(name: str, dataset: Any) -> str:
    if isinstance(dataset, IDXDataset):
        return "run `make data` to fetch Fashion-MNIST"
    # Kedro's registry holds only the pipelines a run asks for; this error path needs them all.
    producers = []
    for module in pkgutil.iter_modules(fashion_vae.pipelines.__path__):
        pipeline = importlib.import_module(f"fashion_vae.pipelines.{module.name}").create_pipeline()
        if name in pipeline.all_outputs():
            producers.append(module.name)
    if not producers:
        return "no pipeline of this project writes it"
    return f"run `kedro run --pipelines={producers[0]}` (or `kedro run`) first"


class MissingInputsHook:
    """Refuse a run whose inputs were never written, before any node runs."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        for name in sorted(pipeline.inputs()):
            if name.startswith("params:") or name == "parameters" or name not in catalog:
                continue
            dataset = catalog.get(name)
            if not dataset.exists():
                location = described_location(dataset, name)
                raise MissingInputError(
                    f"input '{name}' ({location}) does not exist: {_how_to_produce(name, dataset)}"
                )


class RawDataIdentityHook:
    """Refuse raw files whose content is not the expected Fashion-MNIST file, before any node."""

    def __init__(self) -> None:
        self._digests_path: Path | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._digests_path = output_dir(context) / RAW_DIGESTS_NAME

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        raw_files = {
            name: Path(described_location(catalog.get(name), name))
            for name in pipeline.inputs()
            if name in catalog and isinstance(catalog.get(name), IDXDataset)
        }
        if not raw_files:
            return
        # Typed by Kedro only when a node of this run reads the section; validated here anyway.
        parameters = DataProcessingParameters.model_validate(catalog.load("params:data_processing"))
        assert self._digests_path is not None, "after_context_created runs first"
        self._digests_path.parent.mkdir(parents=True, exist_ok=True)
        check_raw_files(raw_files, parameters.raw_sha256, DigestCache(self._digests_path))


class RunLockHook:
    """Hold a lock on each dataset the run writes, for the whole run: two runs never write one
    dataset at once, while runs of disjoint outputs (sweep members) go side by side."""

    def __init__(self) -> None:
        self._lock: RunLock | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._lock = RunLock(output_dir(context))

    # Registered before the checks in settings.py, so that this runs after them: a run
    # refused by a check never takes the lock.
    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline) -> None:
        assert self._lock is not None, "after_context_created runs first"
        self._lock.acquire(pipeline.all_outputs())

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self._lock is not None:
            self._lock.release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        if self._lock is not None:
            self._lock.release()


class LoadVersionsHook:
    """Record the versions the run pins with `--load-versions`, so that `kedro prune` keeps them."""

    def __init__(self) -> None:
        self._path: Path | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._path = output_dir(context) / LOAD_VERSIONS_NAME

    # Registered before RunLockHook in settings.py, so that this runs once the run holds the
    # lock: a run refused by a check, or by the lock, never overwrites the running run's pins.
    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        assert self._path is not None, "after_context_created runs first"
        text = json.dumps(run_params.get("load_versions") or {}, indent=1, sort_keys=True)
        try:
            write_atomically_local(str(self._path), lambda out: out.write(text.encode()))
        except OSError as error:  # the run itself is fine: only a later prune may lose its pins
            logger.warning("Could not record the pinned versions in %s: %s", self._path, error)


class TensorFlowThreadsHook:
    """Size TensorFlow's thread pools from `tensorflow_threads` before any node starts it."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: DataCatalog) -> None:
        if "params:tensorflow_threads" in catalog:
            apply_tensorflow_threads(catalog.load("params:tensorflow_threads"))

    # ParallelRunner's worker processes run no before_pipeline_run: each sizes its pools before
    # its first node (later nodes find them sized already).
    @hook_impl
    def before_node_run(self, catalog: DataCatalog) -> None:
        self.before_pipeline_run({}, catalog)


class ErrorContextHook:
    """Add to an expected node error which node failed on which datasets and files."""

    @hook_impl
    def on_node_error(self, error: Exception, node: Node, catalog: DataCatalog) -> None:
        if not isinstance(error, ProjectError):
            return
        inputs = [
            f"{name} ({described_location(catalog.get(name), 'in memory')})"
            for name in node.inputs
            if not name.startswith("params:") and name in catalog
        ]
        # PEP 678 notes travel with the exception to whoever reports it (see cli.py).
        error.add_note(f"in node {node.name}, reading {', '.join(inputs) or 'no datasets'}")


class NodeTimingHook:
    """Log each node's wall-clock time: timings belong in the log, not in the outputs."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        started = self._started.pop(node.name, None)
        if started is not None:
            logger.info("%s took %.1f s", node.name, time.perf_counter() - started)
