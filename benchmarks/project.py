"""What the benchmarks share: the project's paths, and its configuration as `kedro run` reads it."""

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader

from fashion_vae.settings import CONFIG_LOADER_ARGS
from fashion_vae.tensorflow_threads import apply_tensorflow_threads

ROOT = Path(__file__).resolve().parents[1]
MODEL_INPUT = ROOT / "data" / "05_model_input"


def project_config() -> OmegaConfigLoader:
    """The project's configuration (conf/base, then conf/local), loaded as settings.py loads it."""
    return OmegaConfigLoader(str(ROOT / "conf"), **CONFIG_LOADER_ARGS)


def training_parameters() -> dict[str, Any]:
    """A fresh copy of the `training` parameters, for a benchmark to change."""
    return project_config()["parameters"]["training"]


def apply_project_threads() -> None:
    """Size TensorFlow's thread pools as `kedro run` does, before TensorFlow starts."""
    apply_tensorflow_threads(project_config()["parameters"]["tensorflow_threads"])
