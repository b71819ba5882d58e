"""Kedro runners that skip a node while its persisted outputs are still valid."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from itertools import chain
from pathlib import Path
from typing import Any

from kedro.framework import project
from kedro.framework.context import KedroContext
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import AbstractRunner, ParallelRunner, SequentialRunner, Task, ThreadRunner
from pluggy import PluginManager

from fashion_vae.outputs import output_dir

from . import kedro_runner_api as kedro_api
from .dask_runner import DaskRunner
from .manifest import Manifest
from .node_cache import NodeCache

logger = logging.getLogger(__name__)
MANIFEST_NAME = ".cache_manifest.json"
# The catalog entry (a ManifestDataset) where a runner built without a manifest path finds it.
MANIFEST_DATASET = "cache_manifest"
REUSED = "reused"
_DEFERRED = object()  # the judgement of a node whose outputs are all in memory


class CacheMixin(AbstractRunner):
    """Runs a pipeline like its runner class, but reuses nodes whose outputs are still valid.

    Nodes are judged in topological order when they become ready, so a node whose upstream
    rerun wrote byte-identical outputs is still reused. A node whose outputs all stay in
    memory runs only when a node reading them must run (see `_Schedule`). With
    `enabled=False` every node runs and its fingerprint is still recorded for the next cached
    run.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        manifest_path: Path | None = None,
        project_path: Path | None = None,
        packages: Collection[str] = (),
        **runner_kwargs: Any,
    ) -> None:
        """A runner that caches in `manifest_path`, or else in the catalog's `cache_manifest`.

        `kedro run --runner fashion_vae.cache.CachingRunner` builds it with no arguments but
        `--runner-params` (`enabled=false` turns the cache off), before any context exists:
        the manifest is then the catalog's `cache_manifest` entry (a `ManifestDataset`).
        Recorded paths are relative to `project_path` (default: the manifest's folder), and
        code references are followed into `packages` (default: the Kedro project's package).
        """
        super().__init__(**runner_kwargs)
        self._enabled = enabled
        self._manifest_path = manifest_path
        self._project_path = project_path
        # Read now, not at import: Kedro sets the package name when it configures the project.
        self._packages = tuple(packages) or (
            (project.PACKAGE_NAME,) if project.PACKAGE_NAME else ()
        )
        # Node name → REUSED or the reason it ran, in decision order: what the last run did.
        self.decisions: dict[str, str] = {}

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        """Run the nodes that cannot be reused, with the runner's executor, recording each."""
        kedro_api.prepare(self, pipeline, catalog)
        self.decisions = {}
        manifest = self._manifest(catalog)
        cache = NodeCache(manifest, catalog, pipeline.datasets(), self._packages)
        pool = kedro_api.executor(self, pipeline)
        try:
            with pool or _InlineExecutor() as executor:
                # Judge each node once its dependencies are judged; submit those that must run.
                _Schedule(
                    self,
                    pipeline,
                    catalog,
                    cache,
                    executor,
                    hook_manager=hook_manager,
                    run_id=run_id,
                ).run()
        finally:
            manifest.save(prune=True)
        ran = sum(decision != REUSED for decision in self.decisions.values())
        logger.info("Cache: reused %d nodes, ran %d", len(self.decisions) - ran, ran)

    def _manifest(self, catalog: CatalogProtocol) -> Manifest:
        """The manifest given to the constructor, or else the catalog's `cache_manifest`."""
        if self._manifest_path is not None:
            return Manifest(self._manifest_path, self._project_path or self._manifest_path.parent)
        if MANIFEST_DATASET in catalog:
            manifest = catalog.load(MANIFEST_DATASET)
            if isinstance(manifest, Manifest):
                return manifest
        raise ValueError(
            f"{type(self).__name__} needs a manifest: give it `manifest_path`, or add to the "
            f"catalog\n\n{MANIFEST_DATASET}:\n  type: fashion_vae.cache.ManifestDataset\n"
            "  filepath: ${globals:output_dir}/.cache_manifest.json\n"
        )

    def _submit(
        self,
        executor: Executor,
        node: Node,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None,
        run_id: str | None,
    ) -> Future:
        """Hand the node's Kedro task to the executor, as the runner class would."""
        # Nodes run in other processes (a process pool, Dask workers) unless in this one.
        parallel = not isinstance(executor, _InlineExecutor | ThreadPoolExecutor)
        task = Task(
            node=node,
            catalog=catalog,
            # Worker processes build their own hook manager: a PluginManager cannot be pickled.
            hook_manager=None if parallel else hook_manager,
            is_async=kedro_api.is_async(self),
            run_id=run_id,
            parallel=parallel,
        )
        return executor.submit(task)

    def _judge(self, node: Node, cache: NodeCache) -> str | object | None:
        """None if `node` is reused, `_DEFERRED`, or why it runs; logged, kept in `decisions`."""
        if not self._enabled:
            cache.fingerprint(node)
            reason = "cache disabled (--no-cache)"
        elif cache.is_deferred(node):
            reason = cache.fingerprint(node)
            if reason is None:
                logger.info(
                    "deferred %s: its outputs are in memory, it runs if a node reading them must",
                    node.name,
                )
                self.decisions[node.name] = REUSED  # until a node reading its outputs must run
                return _DEFERRED
        else:
            reason = cache.reason_to_run(node)
        if reason is None:
            logger.info("reused %s (unchanged)", node.name)
            self.decisions[node.name] = REUSED
            return None
        logger.info("running %s: %s", node.name, reason)
        self.decisions[node.name] = reason
        return reason


class CachingRunner(CacheMixin, SequentialRunner):
    """Kedro's SequentialRunner with the cache, the default runner of `kedro run`."""


class CachingThreadRunner(CacheMixin, ThreadRunner):
    """Kedro's ThreadRunner with the cache."""


class CachingParallelRunner(CacheMixin, kedro_api.SpawnedWorkers, ParallelRunner):
    """Kedro's ParallelRunner with the cache; its workers are spawned, not forked."""


class CachingDaskRunner(CacheMixin, DaskRunner):
    """The project's DaskRunner with the cache; the driver keeps the manifest, and every
    worker must see its folder (the output folder)."""

    def _manifest(self, catalog: CatalogProtocol) -> Manifest:
        manifest = super()._manifest(catalog)
        if self.shared_dir is None:
            self.shared_dir = manifest.path.parent
        return manifest


# Kedro's runners, by the names `kedro run --runner` takes, and their caching versions.
_CACHING = {
    SequentialRunner: CachingRunner,
    ThreadRunner: CachingThreadRunner,
    ParallelRunner: CachingParallelRunner,
    DaskRunner: CachingDaskRunner,
}


class _Schedule:
    """One cached run: nodes judged in topological order, those that must run submitted.

    A node whose outputs are all in memory is deferred: it is judged as soon as its inputs
    are, but runs only when a node reading its outputs must run, after the deferred nodes it
    reads from in turn. One that never had to run counts as reused.
    """

    def __init__(
        self,
        runner: CacheMixin,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        cache: NodeCache,
        executor: Executor,
        *,
        hook_manager: PluginManager | None,
        run_id: str | None,
    ) -> None:
        self.runner = runner
        self.pipeline = pipeline
        self.catalog = catalog
        self.cache = cache
        self.executor = executor
        self.hook_manager = hook_manager
        self.run_id = run_id
        self.load_counts = Counter(chain.from_iterable(n.inputs for n in pipeline.nodes))
        self.dependencies = pipeline.node_dependencies
        self.order = {node: index for index, node in enumerate(pipeline.nodes)}  # topological
        self.todo = list(pipeline.nodes)  # not judged yet
        self.deferred: dict[Node, None] = {}  # judged, outputs in memory, not needed (yet)
        self.queue: list[Node] = []  # must run, waiting for their dependencies to complete
        self.completed: set[Node] = set()  # reused, or run to the end: their outputs exist
        self.running: dict[Future, Node] = {}
        # A sequential run runs and records each node before it decides the next one.
        self.inline = isinstance(executor, _InlineExecutor)

    def run(self) -> None:
        """Judge, submit and wait until every node is reused or has run."""
        while self.todo or self.queue or self.running:
            judged = self._judge_ready()
            self._submit_ready()
            if not self.running:
                if not judged:
                    stuck = sorted(n.name for n in [*self.todo, *self.queue])
                    raise RuntimeError(f"Cannot schedule nodes {stuck}")
                continue
            finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in finished:
                node = self.running.pop(future)
                try:
                    future.result()
                except Exception:
                    kedro_api.suggest_resume_scenario(
                        self.runner, self.pipeline, self.completed, self.catalog
                    )
                    raise
                self.cache.record(node)
                logger.info("Completed node: %s", node.name)
                self._finish(node)
        for node in self.deferred:  # no node reading its outputs had to run
            logger.info("reused %s (unchanged)", node.name)
            self._finish(node)

    def _judge_ready(self) -> bool:
        """Judge, in topological order, every node whose dependencies are judged."""
        judged = False
        for node in list(self.todo):
            if self.inline and self.queue:
                break
            if not self.dependencies[node] <= self.completed | self.deferred.keys():
                continue
            self.todo.remove(node)
            judged = True
            decision = self.runner._judge(node, self.cache)
            if decision is _DEFERRED:
                self.deferred[node] = None
            elif decision is None:
                self._finish(node)
            else:
                self._must_run(node)
        return judged

    def _must_run(self, node: Node) -> None:
        """Queue `node`, after the deferred nodes it needs, in topological order."""
        needed: set[Node] = set()
        pending = [node]
        while pending:
            for dependency in self.dependencies[pending.pop()]:
                if dependency in self.deferred and dependency not in needed:
                    needed.add(dependency)
                    pending.append(dependency)
        for ancestor in sorted(needed, key=self.order.__getitem__):
            del self.deferred[ancestor]
            reason = self.cache.reason_deferred_runs(ancestor, node)
            logger.info("running %s: %s", ancestor.name, reason)
            self.runner.decisions[ancestor.name] = reason
            self.queue.append(ancestor)
        self.queue.append(node)

    def _submit_ready(self) -> None:
        """Hand the executor each queued node whose dependencies have completed."""
        for node in [n for n in self.queue if self.dependencies[n] <= self.completed]:
            self.queue.remove(node)
            future = self.runner._submit(
                self.executor, node, self.catalog, self.hook_manager, self.run_id
            )
            self.running[future] = node
            if self.inline:  # record it before anything else is decided or run
                break

    def _finish(self, node: Node) -> None:
        """Count the node as done and release the data no later node needs."""
        self.completed.add(node)
        logger.info("Completed %d out of %d tasks", len(self.completed), len(self.order))
        kedro_api.release_datasets(self.runner, node, self.catalog, self.load_counts, self.pipeline)


class _InlineExecutor(Executor):
    """Runs each task at once in the calling thread: the 'executor' of a sequential run."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Call `fn` now; its result or exception is in the returned future."""
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def manifest_path(context: KedroContext) -> Path:
    """The environment's manifest: the catalog's `cache_manifest` entry, by default
    `<project>/<globals output_dir>/.cache_manifest.json`, beside the environment's outputs."""
    entry = context.config_loader["catalog"].get(MANIFEST_DATASET) or {}
    if "filepath" in entry:
        return Path(context.project_path) / entry["filepath"]  # as Kedro resolves it
    return output_dir(context) / MANIFEST_NAME


def with_cache(runner_class: type[AbstractRunner]) -> type[CacheMixin]:
    """`runner_class` extended with the cache (its constructor takes CacheMixin's arguments)."""
    if issubclass(runner_class, CacheMixin):
        return runner_class
    if runner_class in _CACHING:
        return _CACHING[runner_class]
    return type(f"Caching{runner_class.__name__}", (CacheMixin, runner_class), {})


def make_runner(
    context: KedroContext,
    runner_class: type[AbstractRunner] = SequentialRunner,
    *,
    enabled: bool = True,
    **runner_kwargs: Any,
) -> CacheMixin:
    """A `runner_class` runner that caches in the manifest of `context`'s environment."""
    return with_cache(runner_class)(
        manifest_path=manifest_path(context),
        project_path=Path(context.project_path),
        enabled=enabled,
        **runner_kwargs,
    )
