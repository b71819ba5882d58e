"""What the benchmarks share: the project's paths, and its configuration as `kedro run` reads it."""

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from fashion_vae.parameters import TrainingParameters
from fashion_vae.runtime.tensorflow_threads import apply_tensorflow_threads
from fashion_vae.settings import CONFIG_LOADER_ARGS

ROOT = Path(__file__).resolve().parents[1]
MODEL_INPUT = ROOT / "data" / "05_model_input"


def project_config() -> OmegaConfigLoader:
    """The project's configuration (conf/base, then conf/local), loaded as settings.py loads it."""
    return OmegaConfigLoader(str(ROOT / "conf"), **CONFIG_LOADER_ARGS)


def load_vae(version: str | None) -> Any:
    """`vae_model` from the project's catalog: the latest version, or the one named."""
    catalog = DataCatalog.from_config(
        project_config()["catalog"], load_versions={"vae_model": version}
    )
    return catalog.load("vae_model")


def training_parameters(
    preset: str, preset_changes: Mapping[str, Any] | None = None, **changes: Any
) -> TrainingParameters:
    """The `training` parameters as `kedro run` validates them, with `preset` chosen.

    `preset_changes` replace keys of that preset (architecture or recipe), `changes` keys of the
    section itself (`batch_shards`, `checkpoint_dir`, ...); the result is validated as Kedro
    validates the section, so a benchmark cannot train a configuration a run would refuse.
    """
    training = project_config()["parameters"]["training"]
    training["presets"][preset] = {**training["presets"][preset], **(preset_changes or {})}
    return TrainingParameters.model_validate({**training, **changes, "preset": preset})


def fixed_length_training(
    preset: str,
    epochs: int,
    checkpoint_dir: str,
    preset_changes: Mapping[str, Any] | None = None,
    **changes: Any,
) -> TrainingParameters:
    """`training_parameters` for a benchmark run: `epochs` epochs exactly, silent, checkpointing
    in `checkpoint_dir` (a throw-away folder, so no run resumes another)."""
    return training_parameters(
        preset,
        {**(preset_changes or {}), "epochs": epochs},
        early_stopping_patience=epochs,
        verbose=0,
        checkpoint_dir=checkpoint_dir,
        **changes,
    )


def apply_project_threads() -> None:
    """Size TensorFlow's thread pools as `kedro run` does, before TensorFlow starts."""
    apply_tensorflow_threads(project_config()["parameters"]["tensorflow_threads"])


def rotated(names: list[str], repeat: int) -> list[str]:
    """The contenders in this repeat's order: rotated, so that none always runs first or last."""
    return names[repeat % len(names) :] + names[: repeat % len(names)]


def run_worker(script: str, name: str, repeat: int, images: int, epochs: int) -> dict[str, Any]:
    """Run `script --run name` in a fresh process (its own thread pools); its JSON result."""
    worker = [sys.executable, script, "--run", name, "--seed", str(repeat)]
    worker += ["--images", str(images), "--epochs", str(epochs)]
    output = subprocess.run(worker, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def alternating_runs(
    script: str, names: list[str], args: Any, describe: Callable[[dict[str, Any]], str]
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[dict[str, Any]]]]:
    """Run every contender `args.repeats` times, rotating, each in a fresh process.

    Returns per contender the images/s of its timed epochs (the first traces the graph), the
    ratio of each contender after the first to the first, one per repeat, and its results.
    """
    rates: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names[1:]}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    timed_epochs = args.epochs - 1
    for repeat in range(args.repeats):
        for name in rotated(names, repeat):
            result = run_worker(script, name, repeat, args.images, args.epochs)
            results[name].append(result)
            rates[name].extend(result["per_epoch"][1:])
            per_epoch = ", ".join(f"{rate:,.0f}" for rate in result["per_epoch"])
            print(
                f"run {repeat + 1} {name:15s}: images/s per epoch {per_epoch} (first is "
                f"warm-up); {describe(result)}",
                flush=True,
            )
        # Epochs of one repeat ran back to back: their ratio sees the least machine noise.
        baseline = np.median(rates[names[0]][-timed_epochs:])
        for name, name_ratios in ratios.items():
            name_ratios.append(np.median(rates[name][-timed_epochs:]) / baseline)
    return rates, ratios, results


def alternating_arguments(description: str, images: int, repeats: int) -> argparse.Namespace:
    """The options of a script timed by `alternating_runs` (and its workers' hidden ones)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--images", type=int, default=images, help="training images per run")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (first is warm-up)")
    parser.add_argument("--repeats", type=int, default=repeats, help="runs of each, alternating")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # a worker: one contender, one seed
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()
