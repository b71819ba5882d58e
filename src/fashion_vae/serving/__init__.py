"""The VAE as two MLflow pyfunc models: an encoder (images → posterior means) and a decoder
(latent codes → images), each with its signature.

Each training run logs both (see `fashion_vae.hooks.tracking`) as models whose only artifact is the
trained `.keras` file and whose loader is this module (`loader_module`), so loading one imports
this installed package and opens the file with Keras' safe mode: nothing is unpickled. (A
`mlflow.pyfunc.PythonModel` would be cloudpickled into the model; kedro-mlflow's
`pipeline_ml_factory` logs one of those, see `fashion_vae.hooks.tracking` for why it is not used.)

One model per direction, because MLflow enforces a signature's every input as required: one
model taking either images or codes could not have a signature that MLflow's UI shows and
still accept a plain array. `mlflow models serve --env-manager local -m runs:/<run id>/vae`
answers a float32 N × 28 × 28 × 1 array of pixels in [0, 1], plain or as
`{"inputs": {"images": ...}}`, with the N posterior means; `-m runs:/<run id>/vae_decoder`
answers N × latent_dim codes, plain or as `{"inputs": {"latents": ...}}`, with N × 28 × 28 × 1
pixel probabilities.

JSON of 784 decimal numbers per image costs the server more than the model: MLflow decodes the
body twice and copies every nested list before it checks the signature. The same request as
Parquet (`parquet_request`, MLflow's `application/vnd.apache.parquet` content type: one column
named as the input, one flattened row per image) arrives as binary float32 and is reshaped
against the signature in one step.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc.scoring_server import CONTENT_TYPE_PARQUET as PARQUET
from mlflow.types import Schema, TensorSpec

from fashion_vae.errors import ModelMismatchError
from fashion_vae.model import VAE, decode_latents, encode_images
from fashion_vae.model.on_this_machine import adapt_to_this_machine
from fashion_vae.model.vae import IMAGE_SHAPE

# Logged model name → the one input it takes.
MODELS = {"vae": "images", "vae_decoder": "latents"}
MODEL_FILE = "vae.keras"
SETTINGS_FILE = "serving.json"
BATCH_SIZE = 256


class VAEPyfunc:
    """What MLflow's pyfunc `predict` calls: encode images or decode latent codes."""

    def __init__(self, vae: VAE, input_name: str, max_request_rows: int) -> None:
        self.vae = vae
        self.input_name = input_name
        self.max_request_rows = max_request_rows

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        """Posterior means of images, or pixel probabilities of latent codes."""
        array = _checked(self.input_name, model_input[self.input_name], self.max_request_rows)
        try:
            if self.input_name == "images":
                return encode_images(self.vae, _in_unit_range(array), BATCH_SIZE)[0]
            return decode_latents(self.vae, array, BATCH_SIZE)
        except ModelMismatchError as error:
            raise _bad_input(str(error)) from error


def _bad_input(message: str) -> MlflowException:
    # MLflow's scoring server answers an MlflowException with this code as HTTP 400.
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _checked(name: str, array: np.ndarray, max_rows: int) -> np.ndarray:
    """The input, whose shape and dtype MLflow checked against the signature, within bounds."""
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise _bad_input(f"'{name}' must be a non-empty array of finite numbers")
    if len(array) > max_rows:
        raise _bad_input(
            f"'{name}' holds {len(array):,} rows; at most {max_rows:,} per request "
            "(parameter tracking.max_request_rows)"
        )
    return array


def _in_unit_range(images: np.ndarray) -> np.ndarray:
    if images.min() < 0 or images.max() > 1:
        raise _bad_input("'images' must hold pixel values in [0, 1] (divide 8-bit pixels by 255)")
    return images


def model_signature(
    input_name: str, latent_dim: int
) -> tuple[ModelSignature, dict[str, np.ndarray]]:
    """The model's input and output as float32 tensors, the batch dimension free, and an
    input example of one row (MLflow's UI shows both)."""
    images, codes = IMAGE_SHAPE, (latent_dim,)
    shape_in, shape_out = (images, codes) if input_name == "images" else (codes, images)
    float32 = np.dtype("float32")
    signature = ModelSignature(
        inputs=Schema([TensorSpec(float32, (-1, *shape_in), input_name)]),
        outputs=Schema([TensorSpec(float32, (-1, *shape_out))]),
    )
    return signature, {input_name: np.full((1, *shape_in), 0.5, np.float32)}


def parquet_request(array: np.ndarray, input_name: str = "images") -> bytes:
    """The body of a request of `array` (images, or codes for the decoder) as Parquet: one
    column named `input_name`, one flattened float32 row per item."""
    rows = np.asarray(array, np.float32).reshape(len(array), -1)
    return pd.DataFrame({input_name: list(rows)}).to_parquet(index=False)


def _load_pyfunc(data_path: str) -> VAEPyfunc:
    """MLflow's loader hook for `loader_module`: the model file, opened in Keras' safe mode,
    and its serving settings, from the JSON beside it."""
    # `mlflow models serve` loads the model here: MLflow 3's telemetry, which would reach the
    # network on its next event, stays off in the server too (as TrackingHook does for runs).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    folder = Path(data_path)
    settings = json.loads((folder / SETTINGS_FILE).read_text())
    vae = adapt_to_this_machine(keras.saving.load_model(folder / MODEL_FILE, safe_mode=True))
    return VAEPyfunc(vae, settings["input"], settings["max_request_rows"])


def log_vae_models(vae: VAE, max_request_rows: int) -> list[str]:
    """Log `vae` as the encoder and decoder pyfunc models of the active MLflow run, each
    refusing requests of more than `max_request_rows` rows; return their model URIs."""
    uris = []
    with tempfile.TemporaryDirectory() as tmp:
        vae.save(Path(tmp) / MODEL_FILE)
        for name, input_name in MODELS.items():
            # Settings in a file of the model, not MLflow's model_config, which MLflow also
            # logs as the run's parameters.
            folder = Path(tmp, name)
            folder.mkdir()
            os.link(Path(tmp) / MODEL_FILE, folder / MODEL_FILE)
            settings = {"input": input_name, "max_request_rows": max_request_rows}
            (folder / SETTINGS_FILE).write_text(json.dumps(settings))
            signature, example = model_signature(input_name, vae.latent_dim)
            info = mlflow.pyfunc.log_model(
                name=name,
                loader_module=__name__,
                data_path=str(folder),
                signature=signature,
                input_example=example,
                # Written as given instead of inferred (which loads the model in a subprocess):
                # the served model needs this project's package installed (`pip install -e .`).
                pip_requirements=[
                    f"mlflow=={mlflow.__version__}",
                    f"keras=={keras.__version__}",
                    f"tensorflow=={version('tensorflow')}",
                ],
            )
            uris.append(info.model_uri)
    return uris


__all__ = [
    "MODELS",
    "PARQUET",
    "VAEPyfunc",
    "log_vae_models",
    "parquet_request",
]
