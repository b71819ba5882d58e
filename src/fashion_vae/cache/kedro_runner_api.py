"""Kedro's protected runner API, which the caching runners need, fenced in one module.

Written against Kedro 1.7.0. Kedro's documentation tells a custom runner to implement `_run`,
and AbstractRunner's underscored helpers are what Kedro's own runners call from there (each
runner class overrides some). A caching runner that keeps SequentialRunner's, ThreadRunner's
and ParallelRunner's checks, shared-memory datasets and executors must call them too: Kedro has
no public hook that could skip a node. Nothing else in the project names them, and
tests/cache/test_kedro_runner_api.py checks every name and signature used here against the
installed Kedro, so that an upgrade that changes them fails there, loudly, not in a run.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from kedro.framework import project
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import AbstractRunner


def prepare(runner: AbstractRunner, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
    """The runner class's checks of the catalog and nodes; its shared-memory datasets."""
    runner._validate_catalog(catalog)
    runner._validate_nodes(pipeline.nodes)
    runner._set_manager_datasets(catalog)


def executor(runner: AbstractRunner, pipeline: Pipeline) -> Executor | None:
    """The runner class's executor for `pipeline` (None: run the nodes in this thread)."""
    return runner._get_executor(runner._get_required_workers_count(pipeline))


def is_async(runner: AbstractRunner) -> bool:
    """Whether the runner loads and saves each node's datasets asynchronously."""
    return runner._is_async


def release_datasets(
    runner: AbstractRunner,
    node: Node,
    catalog: CatalogProtocol,
    load_counts: dict[str, int],
    pipeline: Pipeline,
) -> None:
    """Release the in-memory data that no node after `node` loads."""
    runner._release_datasets(node, catalog, load_counts, pipeline)


def suggest_resume_scenario(
    runner: AbstractRunner, pipeline: Pipeline, done: Iterable[Node], catalog: CatalogProtocol
) -> None:
    """Kedro's log of the `kedro run --from-nodes` command that resumes a failed run."""
    runner._suggest_resume_scenario(pipeline, done, catalog)


class SpawnedWorkers(AbstractRunner):
    """A ParallelRunner whose worker processes are spawned, not forked, and configured."""

    def _get_executor(self, max_workers: int) -> Executor:
        # TensorFlow is not fork-safe: a worker forked from a process that has run TensorFlow
        # crashes (segmentation fault). KEDRO_MP_CONTEXT, Kedro's own switch, still decides.
        if os.environ.get("KEDRO_MP_CONTEXT"):
            return super()._get_executor(max_workers)
        # Kedro's Task configures the project in a worker only where spawn is the process-wide
        # start method (with a spawn context alone a worker runs no project hooks), and then
        # hands the worker's own LOGGING to itself (endless recursion, Kedro 1.7): the worker
        # is configured here instead.
        return ProcessPoolExecutor(
            max_workers=max_workers,
            mp_context=get_context("spawn"),
            initializer=configure_worker,
            initargs=(project.PACKAGE_NAME, dict(project.LOGGING)),
        )


def configure_worker(package_name: str | None, logging_config: dict[str, Any]) -> None:
    """Configure the project in a worker process (spawned, or a Dask worker's), as Kedro's Task
    means to under spawn."""
    if package_name:
        project.configure_project(package_name)
    if logging_config:
        project.configure_logging(logging_config)
    # Configured: Kedro's Task must not configure this worker again, which it does when the
    # worker's start method is spawn or forkserver (Task._run_node_synchronization). Only this
    # worker's default changes; the worker starts no processes of its own.
    multiprocessing.set_start_method("fork", force=True)
