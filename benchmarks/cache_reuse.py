"""Cache reuse: which nodes each kind of change reruns, and what a cached `kedro run` costs.

Every scenario runs the `test` environment (1,024 real training images, 2 epochs) in a
temporary copy of the project: first a complete run, then, each on a fresh copy of that
result, one change and a second run. Two ways to run:

- session: `KedroSession` in this process, imports already done (as in a notebook);
- cli: `python -m kedro run --env test` in a new process, start-up included; the package is
  imported from the copy's `src/`, so the node-edit scenarios edit the copy, never `src/`.

Prints, per scenario, the median seconds and its ratio to the first run, and which nodes ran
and why (from the runner's record, or the log lines of the CLI). "Kedro's run" is the time of
`session.run` (catalog, hooks and nodes) in session mode and Kedro's "Pipeline execution
completed" figure (nodes only) in cli mode; the rest is start-up: imports and configuration.
`--persist-sections` adds catalog entries for evaluate's metric sections, which otherwise
stay in memory: the cache then defers them, and they run only when a node reading them must.

Needs the raw data (`make data`). Run:
`.venv/bin/python benchmarks/cache_reuse.py [--mode session|cli|both] [--repeats 3]`.
"""

import argparse
import contextlib
import importlib
import os
import pkgutil
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402

import fashion_vae.pipelines  # noqa: E402
from fashion_vae.cache import REUSED, make_runner  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = ROOT / "data" / "01_raw" / "fashion-mnist"
PIPELINES = {
    module.name: importlib.import_module(f"fashion_vae.pipelines.{module.name}").create_pipeline()
    for module in pkgutil.iter_modules(fashion_vae.pipelines.__path__)
}
NODE_PIPELINE = {n.name: name for name, p in PIPELINES.items() for n in p.nodes}
NORMALIZE = "return images.astype(np.float32) / np.float32(255)"
# Plain, unwrapped log lines, so that the CLI's decisions can be read back.
LOGGING = """version: 1
disable_existing_loggers: false
handlers:
  console: {class: logging.StreamHandler, stream: ext://sys.stdout}
loggers:
  kedro: {level: INFO}
  fashion_vae: {level: INFO}
root: {handlers: [console], level: WARNING}
"""
PIPELINE_SECONDS = re.compile(r"Pipeline execution completed successfully in ([\d.]+) sec")
DECISION = re.compile(r"^(?:reused (\S+) \(unchanged\)|running (\S+): (.*))$", re.MULTILINE)

# Scenario → (runtime parameters, edit of the copy's normalize node or None).
SCENARIOS: dict[str, tuple[dict[str, Any], tuple[str, str] | None]] = {
    "unchanged": ({}, None),
    "evaluate parameter": ({"evaluate": {"n_generated": 128}}, None),
    "training.latent_dim": ({"training": {"latent_dim": 8}}, None),
    "edit normalize": ({}, (NORMALIZE, NORMALIZE.replace("255", "256"))),
    "edit normalize, same output": ({}, (NORMALIZE, f"{NORMALIZE}  # an edit, same numbers")),
}


def copy_project(destination: Path, persist_sections: bool) -> Path:
    """Configuration, raw-data link and package source of the project, in `destination`."""
    destination.mkdir()
    shutil.copy(ROOT / "pyproject.toml", destination)
    shutil.copytree(ROOT / "conf", destination / "conf", ignore=shutil.ignore_patterns("local"))
    (destination / "conf" / "local").mkdir()
    shutil.copytree(
        ROOT / "src" / "fashion_vae",
        destination / "src" / "fashion_vae",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (destination / "data" / "01_raw").mkdir(parents=True)
    (destination / "data" / "01_raw" / "fashion-mnist").symlink_to(RAW_DIR)
    (destination / "logging.yml").write_text(LOGGING)
    if persist_sections:
        sections = sorted(
            out
            for n in PIPELINES["evaluate"].nodes
            for out in n.outputs
            if out.endswith("_section")
        )
        (destination / "conf" / "test" / "catalog_sections.yml").write_text(
            "".join(
                f"{name}:\n  type: json.JSONDataset\n"
                f"  filepath: ${{globals:output_dir}}/07_model_output/sections/{name}.json\n"
                for name in sections
            )
        )
    return destination


def edit_source(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` in the source file `path`, which must contain it."""
    text = path.read_text()
    if old not in text:
        raise RuntimeError(f"{path} no longer contains {old!r}: update the benchmark's edit")
    path.write_text(text.replace(old, new))


def run_session(project: Path, params: dict[str, Any]) -> tuple[dict[str, str], float]:
    """A cached run of every pipeline in this process: the runner's decisions, its seconds."""
    bootstrap_project(project)
    with (
        contextlib.chdir(project),
        KedroSession.create(project, env="test", runtime_params=params) as session,
    ):
        runner = make_runner(session.load_context())
        start = time.perf_counter()
        session.run(runner=runner)
    return runner.decisions, time.perf_counter() - start


def run_cli(project: Path, params: dict[str, Any]) -> tuple[dict[str, str], float]:
    """`python -m kedro run --env test` in a new process: the decisions it logged, its seconds."""
    flat = ",".join(f"{section}.{k}={v}" for section, kv in params.items() for k, v in kv.items())
    command = [sys.executable, "-m", "kedro", "run", "--env", "test"]
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "KEDRO_LOGGING_CONFIG": str(project / "logging.yml"),
    }
    result = subprocess.run(
        [*command, *(["--params", flat] if flat else [])],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"kedro run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    decisions = {
        reused or name: REUSED if reused else reason
        for reused, name, reason in DECISION.findall(result.stdout)
    }
    return decisions, float(PIPELINE_SECONDS.search(result.stdout).group(1))


def timed(
    run: Callable[[Path, dict[str, Any]], tuple[dict[str, str], float]],
    project: Path,
    params: dict[str, Any],
) -> tuple[float, float, dict[str, str]]:
    """Seconds in all, seconds of the pipeline run itself, and the decisions."""
    start = time.perf_counter()
    decisions, pipeline_seconds = run(project, params)
    return time.perf_counter() - start, pipeline_seconds, decisions


def describe(decisions: dict[str, str]) -> str:
    """Counts of reused and run nodes, and each run node's pipeline and reason."""
    ran = {name: reason for name, reason in decisions.items() if reason != REUSED}
    lines = [f"    reused {len(decisions) - len(ran)}, ran {len(ran)} of {len(decisions)} nodes"]
    lines += [f"    ran {NODE_PIPELINE[n]}/{n}: {reason}" for n, reason in sorted(ran.items())]
    return "\n".join(lines)


def benchmark(mode: str, repeats: int, persist_sections: bool, workdir: Path) -> None:
    """Run the first run and each scenario `repeats` times; print medians and decisions."""
    run = run_session if mode == "session" else run_cli
    scenarios = {
        name: scenario
        for name, scenario in SCENARIOS.items()
        if mode == "cli" or scenario[1] is None  # this process cannot re-import edited code
    }
    times: dict[str, list[tuple[float, float]]] = {"first run": []}
    decisions: dict[str, dict[str, str]] = {}
    for repeat in range(repeats):
        baseline = copy_project(workdir / f"{mode}-{repeat}", persist_sections)
        total, pipeline, decisions["first run"] = timed(run, baseline, {})
        times["first run"].append((total, pipeline))
        for index, (name, (params, edit)) in enumerate(scenarios.items()):
            # Each scenario starts from the first run's result; copies keep the files' mtimes.
            project = shutil.copytree(baseline, workdir / f"{mode}-{repeat}-{index}", symlinks=True)
            if edit:
                edit_source(project / "src/fashion_vae/pipelines/data_processing/nodes.py", *edit)
            total, pipeline, decisions[name] = timed(run, project, params)
            times.setdefault(name, []).append((total, pipeline))
            shutil.rmtree(project)

    first = statistics.median(total for total, _ in times["first run"])
    print(f"\n== {mode}: median of {repeats}, sections persisted: {persist_sections} ==")
    for name, samples in times.items():
        total = statistics.median(total for total, _ in samples)
        pipeline = statistics.median(pipeline for _, pipeline in samples)
        print(
            f"{name}: {total:.2f} s, {100 * total / first:.0f}% of the first run "
            f"(of which Kedro's run {pipeline:.2f} s)"
        )
        print(describe(decisions[name]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["session", "cli", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--persist-sections", action="store_true")
    args = parser.parse_args()
    if not (RAW_DIR / "train-images-idx3-ubyte.gz").exists():
        sys.exit(f"{RAW_DIR} is missing: run `make data` first")
    with tempfile.TemporaryDirectory(prefix="cache_reuse_") as workdir:
        for mode in ("session", "cli") if args.mode == "both" else (args.mode,):
            benchmark(mode, args.repeats, args.persist_sections, Path(workdir))


if __name__ == "__main__":
    main()
