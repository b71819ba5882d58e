"""Time `kedro run --pipelines=evaluate,report` on the stored model: wall time and peak RSS.

Each run is a fresh `kedro run` process, as a user would start it (Python and TensorFlow
start-up included), in a throw-away copy of the project whose inputs are links to the real
`data/` folders, so the benchmark never adds versions to the real metrics or samples. It runs
`evaluate` and `report` together, as the `evaluate` pipeline did when the figures of
benchmarks/README.md were measured (the report was part of it then).
A baseline with K = 1 (`iwae_samples=1, n_samples=1`: the ELBO alone, no importance
weighting) runs in the same session. The time is broken down by node from the log lines of
`fashion_vae.hooks.NodeTimingHook` ("<node> took <seconds> s"), which each run writes through
a plain logging configuration of the copy; the rest of the wall time is start-up, loading and
saving.

Usage (from the project root; needs `kedro run --pipelines=feature_classifier` and a trained
`vae_model`):

    .venv/bin/python benchmarks/evaluate_speed.py [--repeats 3] [--baseline-repeats 1]
        [--params tensorflow_threads.intra_op=null,tensorflow_threads.inter_op=null]
        [--pipelines evaluate]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
KEDRO = Path(sys.executable).parent / "kedro"
# Inputs of the evaluate pipeline, linked read-only into the copy; outputs stay in the copy.
INPUT_FOLDERS = ("02_intermediate", "05_model_input", "06_models")
OUTPUT_FOLDERS = ("07_model_output", "08_reporting")
# Training outputs that live among the outputs but that the report nodes read.
TRAINING_OUTPUTS = ("08_reporting/training_history.csv", "07_model_output/training_progress.npy")
PIPELINES = "evaluate,report"
# Kedro's default (rich) handler wraps long lines; this one writes each record on one line.
LOG_FORMAT = "%(name)s: %(message)s"
LOGGING = f"""version: 1
disable_existing_loggers: false
formatters:
  plain: {{format: "{LOG_FORMAT}"}}
handlers:
  console: {{class: logging.StreamHandler, stream: ext://sys.stdout, formatter: plain}}
loggers:
  kedro: {{level: INFO}}
  fashion_vae: {{level: INFO}}
root: {{handlers: [console], level: WARNING}}
"""
# What `NodeTimingHook` logs after each node.
NODE_SECONDS = re.compile(r"^fashion_vae\.hooks\.runs: (\S+) took ([\d.]+) s$", re.MULTILINE)


def make_project_copy(root: Path) -> Path:
    """A copy of the project's configuration whose data inputs link to the real ones."""
    for item in ("pyproject.toml", ".telemetry"):
        if (PROJECT_ROOT / item).exists():
            shutil.copy(PROJECT_ROOT / item, root / item)
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()  # the package is installed (editable) in the venv
    data = root / "data"
    data.mkdir()
    for folder in INPUT_FOLDERS:
        (data / folder).symlink_to(PROJECT_ROOT / "data" / folder)
    for folder in OUTPUT_FOLDERS:
        (data / folder).mkdir()
    for versioned_dataset in TRAINING_OUTPUTS:
        (data / versioned_dataset).symlink_to(PROJECT_ROOT / "data" / versioned_dataset)
    (root / "logging.yml").write_text(LOGGING)
    return root


def node_seconds(log: str) -> dict[str, float]:
    """Each node's seconds, from the `NodeTimingHook` lines of a run's log."""
    return {name: float(seconds) for name, seconds in NODE_SECONDS.findall(log)}


def run_once(
    project: Path, pipelines: str, params: str | None, load_versions: str | None
) -> tuple[float, float, dict[str, float]]:
    """Run the pipelines in a fresh process: wall seconds, peak RSS in MiB, seconds per node."""
    # --no-cache: every run computes everything, as on a newly trained model.
    command = [str(KEDRO), "run", f"--pipelines={pipelines}", "--no-cache"]
    if params:
        command.append(f"--params={params}")
    if load_versions:
        command.append(f"--load-versions={load_versions}")
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KEDRO_LOGGING_CONFIG": str(project / "logging.yml"),
    }
    log = project / "run.log"
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=project, env=env, stdout=out, stderr=out)
        # wait4 returns this child's own resource usage (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}); log:\n{log.read_text()}")
    nodes = node_seconds(log.read_text())
    if not nodes:
        sys.exit(f"no '<node> took <seconds> s' lines in the log of {' '.join(command)}")
    return seconds, usage.ru_maxrss / 1024, nodes


def latest_metrics(project: Path) -> dict:
    """The metrics JSON of the copy's latest run."""
    versions = sorted((project / "data" / "08_reporting" / "metrics.json").iterdir())
    return json.loads((versions[-1] / "metrics.json").read_text("utf-8"))


def measure(
    project: Path,
    label: str,
    repeats: int,
    *,
    pipelines: str,
    params: str | None,
    load_versions: str | None,
) -> dict:
    """Run `repeats` times; print and return the timings and the last run's metrics."""
    walls, rss, nodes = [], [], []
    for index in range(repeats):
        # Other processes' load before the run: on a shared machine it explains the spread.
        load = os.getloadavg()[0]
        seconds, peak, run_nodes = run_once(project, pipelines, params, load_versions)
        walls.append(seconds)
        rss.append(peak)
        nodes.append(run_nodes)
        print(
            f"  {label} run {index + 1}/{repeats}: {seconds:6.1f} s, peak RSS {peak:6.0f} MiB "
            f"(1-min load average before: {load:.1f})"
        )
    result = latest_metrics(project)
    return {"label": label, "walls": walls, "rss": rss, "nodes": nodes, "metrics": result}


def summarize(measurement: dict) -> None:
    """Print median wall time, peak RSS and the node breakdown of one configuration."""
    walls, run = measurement["walls"], measurement["metrics"]["run"]
    print(
        f"\n{measurement['label']}: median {statistics.median(walls):.1f} s of {len(walls)} "
        f"(min {min(walls):.1f}, max {max(walls):.1f}); peak RSS {max(measurement['rss']):.0f} "
        f"MiB; K = {run['parameters']['iwae_samples']}"
    )
    print("  median seconds per node (NodeTimingHook's log lines), then per pipeline:")
    runs = measurement["nodes"]
    width = max(len(name) for name in runs[0])
    for name in sorted(runs[0]):
        print(f"  {name:<{width}} {statistics.median(r[name] for r in runs):6.1f} s")
    # Node names start with their pipeline's namespace: "evaluate.likelihood_metrics".
    for pipeline in sorted({name.split(".")[0] for name in runs[0]}):
        totals = [sum(v for n, v in r.items() if n.startswith(f"{pipeline}.")) for r in runs]
        print(f"  {f'all {pipeline} nodes':<{width}} {statistics.median(totals):6.1f} s")
    print(f"  {'all nodes':<{width}} {statistics.median(sum(r.values()) for r in runs):6.1f} s")
    rest = [wall - sum(r.values()) for wall, r in zip(walls, runs, strict=True)]
    # Kedro and TensorFlow start-up, loading and saving datasets.
    print(f"  {'everything else':<{width}} {statistics.median(rest):6.1f} s")
    elbo = measurement["metrics"]["elbo"]["negative_elbo"]
    nll = measurement["metrics"]["log_likelihood"]["negative_log_likelihood_iwae"]
    print(f"  negative ELBO {elbo:.2f}, IWAE NLL {nll:.2f} nats/image")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs with default parameters")
    parser.add_argument("--baseline-repeats", type=int, default=1, help="runs with K = 1")
    parser.add_argument(
        "--load-versions", help="pin datasets, e.g. vae_model:2026-11-25T02.29.28.288Z"
    )
    parser.add_argument(
        "--params",
        help="parameters for every run, e.g. "
        "tensorflow_threads.intra_op=null,tensorflow_threads.inter_op=null",
    )
    parser.add_argument(
        "--pipelines",
        default=PIPELINES,
        help=f"comma-separated pipelines to run (default {PIPELINES}; evaluate alone: no figures)",
    )
    args = parser.parse_args()
    print(
        f"{args.pipelines} pipelines on {os.cpu_count()} CPUs (fresh `kedro run` process each run)"
    )
    with tempfile.TemporaryDirectory(prefix="evaluate_speed_") as tmp:
        project = make_project_copy(Path(tmp))
        runs = {"default parameters": (args.repeats, args.params)}
        if args.baseline_repeats:
            baseline = ",".join(
                filter(None, [args.params, "evaluate.iwae_samples=1,evaluate.n_samples=1"])
            )
            runs["baseline K = 1"] = (args.baseline_repeats, baseline)
        measurements = [
            measure(
                project,
                label,
                repeats,
                pipelines=args.pipelines,
                params=params,
                load_versions=args.load_versions,
            )
            for label, (repeats, params) in runs.items()
        ]
    for measurement in measurements:
        summarize(measurement)


if __name__ == "__main__":
    main()
