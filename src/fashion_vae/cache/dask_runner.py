"""Kedro's nodes on a Dask cluster: `kedro run --runner=DaskRunner` (docs/guide.md, "Beyond one
machine").

The driver (the `kedro run` process) keeps everything that makes a run one run: the session,
its hooks before and after the pipeline, the run lock, the MLflow run and the cache manifest.
Each node that must run is a Dask task (keyed by the node's name, as the dashboard shows it):
a worker configures the project once, runs the node through Kedro's `Task` (the project's node
hooks included, in the worker's log) and reads and writes its datasets through the catalog,
so every worker must see the output folder at the same path. Data that stays in memory
between nodes travels through the driver.

The cluster is the scheduler at `address` (a runner parameter), or else Dask's own
configuration (`DASK_SCHEDULER_ADDRESS`, `scheduler-address` in `distributed.yaml`), or else a
`LocalCluster` of worker processes on this machine. A worker that dies in a node's task is
replaced by Dask, which runs the task again elsewhere (`distributed.scheduler.allowed-failures`
times); then the run ends naming the node.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import cloudpickle
from kedro.framework import project
from kedro.io import CatalogProtocol, DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import AbstractRunner, Task
from pluggy import PluginManager

from fashion_vae.errors import ProjectError

from . import kedro_runner_api as kedro_api

logger = logging.getLogger(__name__)
# How long to wait for the scheduler, and for its first worker, before giving up.
CONNECT_TIMEOUT_S = 10.0
PROBE_PREFIX = ".dask-probe-"
# The project package a worker process has configured (Kedro's settings, hooks and logging).
_configured_package: str | None = None


class DaskClusterError(ProjectError):
    """The Dask cluster cannot run this pipeline: unreachable, no workers, or a worker lost."""


class DaskRunner(AbstractRunner):
    """Runs each node as a task on a Dask cluster: the scheduler at `address`, Dask's
    configured one, or a local cluster of `n_workers` processes (default: as many as the
    pipeline can use, at most the cores)."""

    def __init__(
        self,
        address: str | None = None,
        n_workers: int | str | None = None,
        timeout: float | str = CONNECT_TIMEOUT_S,
        shared_dir: str | Path | None = None,
        is_async: bool = False,
    ) -> None:
        """Connects now when there is an address, so an unreachable one ends the run before
        anything is written; `shared_dir` is a folder every worker must see (checked)."""
        super().__init__(is_async=is_async)
        self._n_workers = None if n_workers is None else int(n_workers)
        self._timeout = float(timeout)
        self.shared_dir = None if shared_dir is None else Path(shared_dir)
        self._address = address or _configured_address()
        self._client = None if self._address is None else _connect(self._address, self._timeout)

    def _get_required_workers_count(self, pipeline: Pipeline) -> int:
        """The nodes that can run at once, at most the cores (the size of a local cluster)."""
        width = len(pipeline.nodes) - len(pipeline.grouped_nodes) + 1
        return self._n_workers or max(1, min(width, os.cpu_count() or 1))

    def _get_executor(self, max_workers: int) -> Executor:
        client = self._client
        if client is None:
            client = _local_cluster(max_workers)
        self._client = None  # the executor closes it; a second run connects again
        executor = DaskExecutor(client)
        try:
            executor.check_workers(self._timeout, self.shared_dir)
        except BaseException:
            executor.shutdown()
            raise
        return executor

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        """Kedro's own scheduling of nodes over the Dask executor."""
        super()._run(pipeline, catalog, hook_manager, run_id)


def _configured_address() -> str | None:
    """The scheduler's address in Dask's configuration (DASK_SCHEDULER_ADDRESS included)."""
    import dask  # noqa: PLC0415 - Dask is imported only by a run that uses it

    return dask.config.get("scheduler-address", None)


def _connect(address: str, timeout: float) -> Any:
    """A client of the scheduler at `address`, or one `DaskClusterError` naming it."""
    from distributed import Client  # noqa: PLC0415

    logger.info("Connecting to the Dask scheduler at %s", address)
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise DaskClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({error}); "
            "start it with `dask scheduler`, or leave the address out for a local cluster"
        ) from None


def _local_cluster(n_workers: int) -> Any:
    """A client of a new cluster of `n_workers` single-threaded processes on 127.0.0.1."""
    from distributed import Client, LocalCluster  # noqa: PLC0415

    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # Any free port of the loopback: two runs on one machine do not contend for 8787.
        dashboard_address="127.0.0.1:0",
    )
    client = Client(cluster, set_as_default=False)
    logger.info(
        "Started a local Dask cluster of %d worker processes (dashboard: %s)",
        n_workers,
        client.dashboard_link,
    )
    return client


class DaskExecutor(Executor):
    """A `concurrent.futures` executor of Kedro tasks on a Dask client (closed on shutdown)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._executor = client.get_executor(pure=False)

    def check_workers(self, timeout: float, shared_dir: Path | None) -> None:
        """Wait for a worker; refuse workers that do not see `shared_dir`'s files."""
        address = self._client.scheduler.address
        try:
            self._client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise DaskClusterError(
                f"no Dask worker joined the scheduler at {address} within {timeout:g} s; "
                f"start one with `dask worker {address}`"
            ) from None
        workers = sorted(self._client.scheduler_info(n_workers=-1)["workers"])
        logger.info("Dask scheduler %s: %d workers: %s", address, len(workers), ", ".join(workers))
        if shared_dir is None:
            return
        shared_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        probe = shared_dir / f"{PROBE_PREFIX}{token}"
        probe.write_text(token, encoding="utf-8")
        try:
            seen = self._client.run(_read_text, str(probe))
        finally:
            probe.unlink()
        blind = sorted(worker for worker, text in seen.items() if text != token)
        if blind:
            raise DaskClusterError(
                f"Dask worker {', '.join(blind)} cannot see {shared_dir}: every worker must "
                "see the output folder at the same path (a shared mount)"
            )

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run a Kedro `Task` on a worker; its future's result is the node, as Kedro expects."""
        if not isinstance(fn, Task) or args or kwargs:
            raise TypeError("DaskExecutor runs Kedro Tasks, with no other arguments")
        node, catalog = fn.node, fn.catalog
        # The worker saves in-memory outputs into its copy of the catalog; the driver's own
        # MemoryDataset objects are resolved here, so that no other thread adds to the catalog.
        memory = {
            name: dataset
            for name in node.outputs
            if isinstance(dataset := catalog.get(name), MemoryDataset)
        }
        remote = _RemoteTask(
            Task(
                node=node,
                catalog=_catalog_for(node, catalog),
                is_async=fn.is_async,
                run_id=fn.run_id,
                parallel=True,  # the worker builds its own hook manager
            ),
            package_name=project.PACKAGE_NAME,
            logging_config=dict(project.LOGGING),
            working_dir=os.getcwd(),
            memory_outputs=sorted(memory),
        )
        key = f"{node.name}-{secrets.token_hex(4)}"
        outer: Future = Future()

        def finish(inner: Future) -> None:
            try:
                data, worker = inner.result()
            except Exception as error:  # noqa: BLE001 - handed to the driver's future
                outer.set_exception(_explained(error, node))
                return
            for name, value in data.items():
                memory[name].save(value)
            logger.info("%s ran on Dask worker %s", node.name, worker)
            outer.set_result(node)

        self._executor.submit(remote, key=key).add_done_callback(finish)
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the client, and the local cluster if this run started one."""
        self._executor.shutdown(wait=wait)
        cluster = self._client.cluster
        self._client.close()
        if cluster is not None:
            cluster.close()


def _catalog_for(node: Node, catalog: CatalogProtocol) -> DataCatalog:
    """What a worker needs: the node's datasets and the parameters (for the node hooks)."""
    names = {*node.inputs, *node.outputs}
    names |= {name for name in catalog.keys() if name.startswith("params:")}  # noqa: SIM118
    return DataCatalog(datasets={name: catalog.get(name) for name in sorted(names)})


def _explained(error: Exception, node: Node) -> Exception:
    """A worker lost in the node's task as one DaskClusterError; other errors as they are."""
    from distributed import KilledWorker  # noqa: PLC0415

    if isinstance(error, KilledWorker):
        return DaskClusterError(
            f"node {node.name}: its Dask worker died each time it ran ({error}); "
            "no output of this try was kept"
        )
    return error


def _read_text(path: str) -> str | None:
    """The text of `path` as this worker sees it (None if it cannot)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


class _RemoteTask:
    """A Kedro task as a Dask worker runs it: in the project, configured, outputs returned."""

    def __init__(
        self,
        task: Task,
        *,
        package_name: str | None,
        logging_config: dict[str, Any],
        working_dir: str,
        memory_outputs: list[str],
    ) -> None:
        # Unpickled by the thread that runs it, which then imports the node's modules.
        self.task = cloudpickle.dumps(task)
        self.package_name = package_name
        self.logging_config = logging_config
        self.working_dir = working_dir
        self.memory_outputs = memory_outputs

    def __call__(self) -> tuple[dict[str, Any], str]:
        """Run the node; return its in-memory outputs and this worker's address."""
        from distributed import get_worker  # noqa: PLC0415

        global _configured_package  # noqa: PLW0603 - once per worker process
        if _configured_package != self.package_name:
            kedro_api.configure_worker(self.package_name, self.logging_config)
            _configured_package = self.package_name
        # Relative paths in parameters (checkpoints) mean the project folder, as on the driver.
        if Path(self.working_dir).is_dir():
            os.chdir(self.working_dir)
        task = cloudpickle.loads(self.task)
        task.execute()
        data = {name: task.catalog.load(name) for name in self.memory_outputs}
        return data, get_worker().address
