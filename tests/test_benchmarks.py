"""The benchmark scripts still run against the current code, on a few hundred real images.

The README quotes their figures, so a script that no longer runs (a renamed function, a changed
model, a moved TensorFlow module) is a broken promise. These tests time nothing: each runs one
script end to end in a copy of the project whose model inputs are a tiny real subset, and checks
the figures it prints. `evaluate_speed.py`, which runs `kedro` for minutes, is checked only where
it reads the node times that the project's hook logs.
"""

import importlib.util
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import node

from fashion_vae.hooks import NodeTimingHook

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Two batches of the textbook preset's 128 to train on; the scripts' other reads fit in these.
TRAIN, VALIDATION, TEST = 256, 128, 128
NUMBER = r"[-+]?\d[\d,]*\.?\d*"


@pytest.fixture(scope="module")
def benchmark_project(
    tmp_path_factory: pytest.TempPathFactory,
    real_images: np.ndarray,
    copy_project: Callable[[Path], Path],
) -> Path:
    """A copy of the project with its benchmarks and tiny real model inputs."""
    root = copy_project(tmp_path_factory.mktemp("benchmarks"))
    shutil.copytree(
        PROJECT_ROOT / "benchmarks",
        root / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    model_input = root / "data" / "05_model_input"
    model_input.mkdir(parents=True)
    splits = np.split(real_images[: TRAIN + VALIDATION + TEST], [TRAIN, TRAIN + VALIDATION])
    for name, images in zip(("train", "validation", "test"), splits, strict=True):
        np.save(model_input / f"{name}_images.npy", images)
    return root


def run_benchmark(root: Path, script: str, *arguments: str) -> str:
    """Run a benchmark script from the project copy's root; its standard output."""
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *arguments],
        cwd=root,
        check=False,  # the assertion shows the script's error output instead
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def numbers(line: str) -> list[float]:
    """The numbers in a printed line, thousands separators allowed."""
    return [float(match.replace(",", "")) for match in re.findall(NUMBER, line)]


def table_row(output: str, name: str) -> list[float]:
    """The numbers of the table row that starts with `name`."""
    (row,) = [line for line in output.splitlines() if line.startswith(f"{name} ")]
    return numbers(row[len(name) :])


def test_preset_ablation_trains_each_variant_and_family(benchmark_project: Path) -> None:
    variants = ["textbook", "default", "default_local_autoregressive", "ladder", "vamp"]
    output = run_benchmark(
        benchmark_project,
        "preset_ablation.py",
        "--epochs=2",  # the default preset warms its learning rate up over one
        f"--images={TRAIN}",
        f"--variants={','.join(variants)}",
    )
    for name in variants:
        seconds, time_ratio, best_validation, test_elbo, test_kl = table_row(output, name)
        assert seconds > 0 and time_ratio > 0 and best_validation > 0
        assert test_elbo > test_kl >= 0  # the reconstruction term is positive
    assert table_row(output, "textbook")[1] == 1.0  # the ratio's baseline is the first variant


def test_train_throughput_prints_the_ratios_to_the_script(benchmark_project: Path) -> None:
    output = run_benchmark(
        benchmark_project, "train_throughput.py", f"--images={TRAIN}", "--epochs=2", "--repeats=1"
    )
    ratios = [line for line in output.splitlines() if line.startswith("throughput ratio")]
    assert [line.split(" / ")[0] for line in ratios] == [
        "throughput ratio project",
        "throughput ratio project_bf16",
        "throughput ratio project_unsplit",
    ]
    for line in ratios:
        assert numbers(line.split(":")[1])[0] > 0
    for name in ("textbook", "project", "project_bf16", "project_unsplit"):
        images_per_second, test_elbo = table_row(output, name)
        assert images_per_second > 0 and test_elbo > 0


def test_train_step_profile_times_every_model_and_names_the_slowest_ops(
    benchmark_project: Path,
) -> None:
    output = run_benchmark(benchmark_project, "train_step_profile.py", "--rounds=1", "--steps=3")
    for name in ("textbook script", "project, default preset", "… compiled by XLA"):
        batch, milliseconds, *_ = table_row(output, name)
        assert batch in (64, 128) and milliseconds > 0
    assert re.search(r"trains \d+\.\d epochs of the default preset", output)
    slowest = output.split("slowest ops")[1].splitlines()[1:]
    assert len(slowest) == 10 and all(":" in line for line in slowest)


@pytest.fixture(scope="module")
def stored_model(benchmark_project: Path, vae) -> Path:
    """The benchmark project with the tiny `vae` as its latest `vae_model`."""
    # The scripts load it through the catalog, as `kedro run` would.
    bootstrap_project(benchmark_project)
    with KedroSession.create(benchmark_project) as session:
        session.load_context().catalog.save("vae_model", vae)
    return benchmark_project


def test_inference_gap_compares_the_encoder_with_fitted_posteriors(stored_model: Path) -> None:
    output = run_benchmark(stored_model, "inference_gap.py", "--images=8", "--steps=3")
    for split in ("test", "train"):
        encoder, diagonal, full, amortization_gap, factorization_gap = table_row(output, split)
        assert min(encoder, diagonal, full) > 0
        assert amortization_gap == pytest.approx(encoder - diagonal, abs=0.011)
        assert factorization_gap == pytest.approx(diagonal - full, abs=0.011)


def test_mixture_threads_times_one_thread_against_every_core(stored_model: Path) -> None:
    arguments = ("--images=256", "--dimensions=2,4,8", "--iterations=2", "--repeats=1")
    output = run_benchmark(stored_model, "mixture_threads.py", *arguments)
    rows = [numbers(line) for line in output.splitlines() if re.match(r"\s+\d+\s", line)]
    assert [row[0] for row in rows] == [2, 4]  # the tiny model has 4 latent dimensions
    for _, one_thread, every_core, ratio in rows:
        assert one_thread > 0 and every_core > 0
        assert ratio == pytest.approx(one_thread / every_core, abs=0.01 + 0.05 * ratio)


def test_evaluate_speed_reads_the_node_times_that_the_hook_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = importlib.util.spec_from_file_location(
        "evaluate_speed", PROJECT_ROOT / "benchmarks" / "evaluate_speed.py"
    )
    evaluate_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate_speed)
    nodes = [
        node(lambda x: x, "a", "b", name="likelihood_metrics", namespace="evaluate"),
        node(lambda x: x, "b", "c", name="build_report_page", namespace="report"),
    ]
    hook = NodeTimingHook()
    with caplog.at_level(logging.INFO, logger="fashion_vae.hooks"):
        for timed_node in nodes:
            hook.before_node_run(timed_node)
            hook.after_node_run(timed_node)
    # Formatted as the benchmark's logging configuration writes the records of a run.
    logging_config = yaml.safe_load(evaluate_speed.LOGGING)
    formatter = logging.Formatter(logging_config["formatters"]["plain"]["format"])
    records = [formatter.format(record) for record in caplog.records]
    log = "\n".join(["kedro.runner: Running node: evaluate.likelihood_metrics", *records])
    seconds = evaluate_speed.node_seconds(log)
    assert list(seconds) == ["evaluate.likelihood_metrics", "report.build_report_page"]
    assert all(value >= 0 for value in seconds.values())


def test_inference_latency_times_both_paths_on_each_request_size(benchmark_project: Path) -> None:
    output = run_benchmark(benchmark_project, "inference_latency.py", "--repeats=2")
    rows = [line for line in output.splitlines() if "images: predict per call" in line]
    assert [int(numbers(row)[0]) for row in rows] == [1, 16, 256]
    for row in rows:
        _, former, current, ratio, _ = numbers(row)
        assert former > 0 and current > 0
        assert ratio == pytest.approx(former / current, rel=0.1)


def test_likelihood_protocol_scores_the_same_images_with_each_k(stored_model: Path) -> None:
    output = run_benchmark(
        stored_model, "likelihood_protocol.py", "--images=8", "--samples", "2", "20"
    )
    rows = [numbers(line) for line in output.splitlines() if "-log p(x)" in line]
    assert [row[:2] for row in rows] == [[8, 2], [8, 20]]
    for _, _, nll, error, negative_elbo, seconds in rows:
        assert 0 < nll <= negative_elbo + 1e-6 and error > 0 and seconds > 0
