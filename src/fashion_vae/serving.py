"""The VAE as an MLflow pyfunc model: images → posterior means, latent codes → images.

Each training run logs it (see `fashion_vae.tracking`) as a model whose only artifact is the
trained `.keras` file and whose loader is this module (`loader_module`), so loading it imports
this installed package and opens the file with Keras' safe mode: nothing is unpickled. (A
`mlflow.pyfunc.PythonModel` would be cloudpickled into the model; kedro-mlflow's
`pipeline_ml_factory` logs one of those, see `fashion_vae.tracking` for why it is not used.)

`mlflow models serve --env-manager local -m runs:/<run id>/vae` answers

- `{"inputs": {"images": <N × 28 × 28 (× 1) pixels in [0, 1]>}}` with the N posterior means,
- `{"inputs": {"latents": <N × latent_dim codes>}}` with N × 28 × 28 × 1 pixel probabilities.
"""

from __future__ import annotations

import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from fashion_vae.errors import ModelMismatchError
from fashion_vae.model import VAE, decode_latents, encode_images
from fashion_vae.model.on_this_machine import adapt_to_this_machine
from fashion_vae.model.vae import IMAGE_SHAPE

MODEL_NAME = "vae"
MODEL_FILE = "vae.keras"
INPUTS = ("images", "latents")
BATCH_SIZE = 256
# The most images or codes one request may hold (about 31 MB of images as JSON): a bigger one
# is refused with a 400 instead of holding the server's memory.
MAX_REQUEST_ROWS = 10_000


class VAEPyfunc:
    """What MLflow's pyfunc `predict` calls: encode images or decode latent codes."""

    def __init__(self, vae: VAE) -> None:
        self.vae = vae

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        """Posterior means of images (a plain array, or `{"images": ...}`), or pixel
        probabilities of `{"latents": ...}`."""
        kind, array = _one_input(model_input)
        try:
            if kind == "images":
                return encode_images(self.vae, _as_images(array), BATCH_SIZE)[0]
            return decode_latents(self.vae, _as_latents(array, self.vae.latent_dim), BATCH_SIZE)
        except ModelMismatchError as error:
            raise _bad_input(str(error)) from error


def _bad_input(message: str) -> MlflowException:
    # MLflow's scoring server answers an MlflowException with this code as HTTP 400.
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _one_input(model_input: Any) -> tuple[str, np.ndarray]:
    """The one input of a request, as float32: a plain array is images (MLflow's usual call)."""
    if isinstance(model_input, np.ndarray | list):
        model_input = {"images": model_input}
    if (
        not isinstance(model_input, dict)
        or len(model_input) != 1
        or (next(iter(model_input)) not in INPUTS)
    ):
        keys = sorted(model_input) if isinstance(model_input, dict) else type(model_input).__name__
        raise _bad_input(
            f"expected an array of images, or exactly one input named 'images' or 'latents', "
            f"got {keys}"
        )
    ((kind, value),) = model_input.items()
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise _bad_input(f"'{kind}' must be an array of numbers: {error}") from error
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise _bad_input(f"'{kind}' must be a non-empty array of finite numbers")
    if len(array) > MAX_REQUEST_ROWS:
        raise _bad_input(
            f"'{kind}' holds {len(array):,} rows; at most {MAX_REQUEST_ROWS:,} per request"
        )
    return kind, array


def _as_images(array: np.ndarray) -> np.ndarray:
    """N × 28 × 28 (× 1) pixels in [0, 1] as the model's N × 28 × 28 × 1."""
    if array.shape[1:] == IMAGE_SHAPE[:2]:
        array = array[..., np.newaxis]
    if array.shape[1:] != IMAGE_SHAPE:
        raise _bad_input(f"'images' must be N x 28 x 28 (x 1), got shape {array.shape}")
    if array.min() < 0 or array.max() > 1:
        raise _bad_input("'images' must hold pixel values in [0, 1] (divide 8-bit pixels by 255)")
    return array


def _as_latents(array: np.ndarray, latent_dim: int) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] != latent_dim:
        raise _bad_input(f"'latents' must be N x {latent_dim}, got shape {array.shape}")
    return array


def _load_pyfunc(data_path: str) -> VAEPyfunc:
    """MLflow's loader hook for `loader_module`: the model file, opened in Keras' safe mode."""
    # `mlflow models serve` loads the model here: MLflow 3's telemetry, which would reach the
    # network on its next event, stays off in the server too (as TrackingHook does for runs).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return VAEPyfunc(adapt_to_this_machine(keras.saving.load_model(data_path, safe_mode=True)))


def log_vae_model(vae: VAE, name: str = MODEL_NAME) -> str:
    """Log `vae` as this pyfunc model in the active MLflow run; return its model URI."""
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / MODEL_FILE
        vae.save(model_file)
        info = mlflow.pyfunc.log_model(
            name=name,
            loader_module=__name__,
            data_path=str(model_file),
            # Written as given instead of inferred (which loads the model in a subprocess):
            # the served model needs this project's package installed (`pip install -e .`).
            pip_requirements=[
                f"mlflow=={mlflow.__version__}",
                f"keras=={keras.__version__}",
                f"tensorflow=={version('tensorflow')}",
            ],
        )
    return info.model_uri


__all__ = ["MODEL_NAME", "VAEPyfunc", "log_vae_model"]
