"""Project hooks: checks before the first node, thread pools, and how long each node took.

Parameters are validated by Kedro itself, from the Pydantic models in the node signatures.
"""

import importlib
import logging
import pkgutil
import time
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node

import fashion_vae.pipelines
from fashion_vae.datasets import IDXDataset
from fashion_vae.tensorflow_threads import apply_tensorflow_threads

logger = logging.getLogger(__name__)


class MissingInputError(FileNotFoundError):
    """A dataset the pipeline reads has never been written; the message says what writes it."""


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
                location = dataset._describe().get("filepath", name)
                raise MissingInputError(
                    f"input '{name}' ({location}) does not exist: {_how_to_produce(name, dataset)}"
                )


class TensorFlowThreadsHook:
    """Size TensorFlow's thread pools from `tensorflow_threads` before any node starts it."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: DataCatalog) -> None:
        if "params:tensorflow_threads" in catalog:
            apply_tensorflow_threads(catalog.load("params:tensorflow_threads"))


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
