"""The sweep on one machine's runners against a Dask cluster's, side by side in one run.

Runs `kedro run --pipelines=sweep --no-cache` once per runner (rotated over repeats, each a
fresh `kedro` process as a user starts it): the sequential default, `ParallelRunner` and
`DaskRunner` on a local cluster of two worker processes (started by the run, included in its
time). Then Dask's cost per node: a chain of trivial nodes on one local Dask worker against the
same chain in this process, divided by the nodes.

    .venv/bin/python benchmarks/sweep_runners.py --env test
    .venv/bin/python benchmarks/sweep_runners.py --env local \
        --params "training.presets.default.epochs=2,training.verbose=2"

The sweep needs the model inputs and the feature classifier of its environment first
(`kedro run --env=ENV --pipelines=data_processing,feature_classifier`).
"""

import argparse
import re
import subprocess
import sys
import time
from statistics import median

from distributed import LocalCluster
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro.runner import SequentialRunner
from project import ROOT, rotated

from fashion_vae.cache import DaskRunner

RUNNERS = {
    "sequential": [],
    "ParallelRunner": ["--runner=ParallelRunner"],
    "Dask (2 local workers)": ["--runner=DaskRunner", "--runner-params=n_workers=2"],
}
KEDRO = str(ROOT / ".venv" / "bin" / "kedro")


def sweep_seconds(env: str, params: str | None, runner: list[str]) -> tuple[float, int]:
    """The wall time of one uncached sweep with `runner`, and the nodes it ran."""
    command = [KEDRO, "run", f"--env={env}", "--pipelines=sweep", "--no-cache", *runner]
    command += [f"--params={params}"] if params else []
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    ran = re.search(r"Cache: reused \d+ nodes, ran (\d+)", result.stdout + result.stderr)
    return seconds, int(ran[1]) if ran else -1


def step(value: int) -> int:
    """A node that does (almost) nothing."""
    return value + 1


def per_node_overhead(nodes: int) -> tuple[float, float]:
    """Seconds per trivial node: in this process, and as a task on one local Dask worker."""
    chain = Pipeline([node(step, f"d{i}", f"d{i + 1}", name=f"step_{i}") for i in range(nodes)])
    times = []
    with LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        for runner in (SequentialRunner(), DaskRunner(address=cluster.scheduler_address)):
            catalog = DataCatalog({"d0": MemoryDataset(0)})
            started = time.perf_counter()
            runner.run(chain, catalog)
            times.append((time.perf_counter() - started) / nodes)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", default="test", help="the Kedro environment of the sweep")
    parser.add_argument("--params", help="kedro run --params for every run")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each runner")
    parser.add_argument("--nodes", type=int, default=50, help="trivial nodes for the overhead")
    parser.add_argument(
        "--runners", default=",".join(RUNNERS), help="which, comma-separated (sequential first)"
    )
    args = parser.parse_args()
    names = args.runners.split(",")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        for name in rotated(names, repeat):
            wall, ran = sweep_seconds(args.env, args.params, RUNNERS[name])
            seconds[name].append(wall)
            print(f"run {repeat + 1} {name:22s}: {wall:7.1f} s ({ran} nodes)", flush=True)
    baseline = median(seconds["sequential"])
    print(f"\nsweep of --env={args.env} {args.params or ''}, median of {args.repeats}:")
    for name, values in seconds.items():
        print(f"  {name:22s} {median(values):7.1f} s  {baseline / median(values):.2f}x")
    local, dask = per_node_overhead(args.nodes)
    print(
        f"\nper trivial node ({args.nodes} in a chain): {local * 1e3:.1f} ms in process, "
        f"{dask * 1e3:.1f} ms as a task on a running local Dask worker"
    )


if __name__ == "__main__":
    main()
