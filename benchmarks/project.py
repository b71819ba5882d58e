"""What the benchmarks share: the project's paths, and its configuration as `kedro run` reads it."""

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader

from fashion_vae.parameters import TrainingParameters
from fashion_vae.settings import CONFIG_LOADER_ARGS
from fashion_vae.tensorflow_threads import apply_tensorflow_threads

ROOT = Path(__file__).resolve().parents[1]
MODEL_INPUT = ROOT / "data" / "05_model_input"


def project_config() -> OmegaConfigLoader:
    """The project's configuration (conf/base, then conf/local), loaded as settings.py loads it."""
    return OmegaConfigLoader(str(ROOT / "conf"), **CONFIG_LOADER_ARGS)


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
