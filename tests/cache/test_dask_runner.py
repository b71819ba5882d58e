"""The DaskRunner on a local cluster of its own: no address, no set-up (docs/guide.md, "Beyond one
machine"). The sweep on a real scheduler and workers is in tests/pipelines/test_sweep.py."""

import os
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from fashion_vae.cache import DaskRunner
from fashion_vae.datasets import NumpyDataset


def where(value: int) -> tuple[int, int]:
    """The value and the process that saw it."""
    return value, os.getpid()


def double(seen: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Twice the value, as an array; what the first node saw, passed on."""
    return np.array([2 * seen[0]]), seen


def test_without_an_address_nodes_run_in_local_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    pipeline = Pipeline(
        [
            node(where, "start", "seen", name="where"),  # in memory, from one task to the next
            node(double, "seen", ["doubled", "passed_on"], name="double"),
        ]
    )
    catalog = DataCatalog(
        {"start": MemoryDataset(21), "doubled": NumpyDataset(filepath=str(tmp_path / "d.npy"))}
    )
    outputs = DaskRunner(n_workers=1).run(pipeline, catalog)
    value, pid = outputs["passed_on"].load()
    assert value == 21
    assert pid != os.getpid()  # a worker process of the cluster the runner started
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), [42])
