"""The logged pyfunc models, in process: their signatures, plain and named inputs, bad inputs.

`tests/test_tracking.py` serves the model a real `kedro run` logged with `mlflow models serve`.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

from fashion_vae.model import VAE, decode_latents, encode_images
from fashion_vae.serving import PARQUET, log_vae_models, parquet_request

MAX_REQUEST_ROWS = 64

IMAGES = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)


@pytest.fixture(scope="module")
def models(vae: VAE, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The encoder's and the decoder's model URIs, logged in a store of their own."""
    store = tmp_path_factory.mktemp("store")
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    try:
        # MLflow's default artifact location is ./mlruns, in whatever folder pytest runs from.
        experiment = mlflow.create_experiment("serving", artifact_location=str(store / "artifacts"))
        with mlflow.start_run(experiment_id=experiment):
            uris = log_vae_models(vae, MAX_REQUEST_ROWS)
        yield dict(zip(("vae", "vae_decoder"), uris, strict=True))
    finally:
        mlflow.set_tracking_uri(None)


def test_each_model_shows_its_signature(models: dict[str, str]) -> None:
    encoder = mlflow.models.get_model_info(models["vae"]).signature
    assert encoder.inputs.input_names() == ["images"]
    assert encoder.inputs.inputs[0].shape == (-1, 28, 28, 1)
    assert encoder.outputs.inputs[0].shape == (-1, 4)
    decoder = mlflow.models.get_model_info(models["vae_decoder"]).signature
    assert decoder.inputs.input_names() == ["latents"]
    assert decoder.inputs.inputs[0].shape == (-1, 4)
    assert decoder.outputs.inputs[0].shape == (-1, 28, 28, 1)
    for uri in models.values():
        info = mlflow.models.get_model_info(uri)
        assert info.saved_input_example_info is not None
        # The serving settings travel in the model, not as parameters of the run.
        assert mlflow.get_run(info.run_id).data.params == {}


def test_plain_and_named_arrays_give_the_models_answers(
    vae: VAE, models: dict[str, str], tmp_path: Path
) -> None:
    encoder = mlflow.pyfunc.load_model(models["vae"])
    means = encode_images(vae, IMAGES, 5)[0]
    np.testing.assert_allclose(encoder.predict(IMAGES), means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(encoder.predict({"images": IMAGES}), means, rtol=1e-5, atol=1e-6)
    decoder = mlflow.pyfunc.load_model(models["vae_decoder"])
    pictures = decode_latents(vae, means, 5)
    np.testing.assert_allclose(decoder.predict(means), pictures, atol=1e-6)
    np.testing.assert_allclose(decoder.predict({"latents": means}), pictures, atol=1e-6)


@pytest.mark.parametrize(
    ("model", "request_", "expected"),
    [
        ("vae", {"pictures": IMAGES}, "missing inputs ['images']"),
        ("vae", IMAGES[..., 0], "does not match expected shape"),
        ("vae", IMAGES * 255, "[0, 1]"),
        ("vae", np.where(IMAGES > 0.5, np.nan, IMAGES), "finite"),
        ("vae", IMAGES[:0], "non-empty"),
        ("vae_decoder", np.zeros((2, 3), np.float32), "does not match expected shape"),
        ("vae_decoder", np.full((2, 4), np.inf, np.float32), "finite"),
        ("vae_decoder", np.zeros((MAX_REQUEST_ROWS + 1, 4), np.float32), "at most 64 per"),
    ],
)
def test_a_bad_request_is_refused_with_a_message(
    models: dict[str, str], model: str, request_: object, expected: str
) -> None:
    # MLflow's scoring server answers these exceptions (INVALID_PARAMETER_VALUE) with a 400.
    with pytest.raises(MlflowException) as refused:
        mlflow.pyfunc.load_model(models[model]).predict(request_)
    assert expected in refused.value.message
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"


def _scored(uri: str, body: bytes | str, content_type: str) -> tuple[int, object]:
    """The status and answer of MLflow's scoring server's handler for one request body."""
    model = mlflow.pyfunc.load_model(uri)
    schema = model.metadata.get_input_schema()
    try:
        answer = scoring_server.invocations(body, content_type, model, schema)
    except MlflowException as refused:
        return refused.get_http_status_code(), refused.message
    return answer.status, json.loads(answer.response)


@pytest.mark.parametrize("model", ["vae", "vae_decoder"])
def test_a_parquet_request_gets_the_json_requests_answer(
    vae: VAE, models: dict[str, str], model: str
) -> None:
    name = "images" if model == "vae" else "latents"
    array = IMAGES if model == "vae" else encode_images(vae, IMAGES, 5)[0]
    for rows in (1, len(array)):
        as_json = json.dumps({"inputs": {name: array[:rows].tolist()}})
        status, expected = _scored(models[model], as_json, scoring_server.CONTENT_TYPE_JSON)
        assert status == 200
        status, answer = _scored(models[model], parquet_request(array[:rows], name), PARQUET)
        assert status == 200
        np.testing.assert_allclose(answer["predictions"], expected["predictions"], atol=1e-6)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (parquet_request(IMAGES, "pictures"), "pictures"),
        (parquet_request(IMAGES[:, :20]), "could not be converted to the expected shape"),
        (parquet_request(IMAGES * 255), "[0, 1]"),
        (parquet_request(np.full_like(IMAGES, np.nan)), "finite"),
        (b"not a parquet file", "Parquet"),
    ],
)
def test_a_bad_parquet_request_is_a_400_with_a_message(
    models: dict[str, str], body: bytes, expected: str
) -> None:
    status, message = _scored(models["vae"], body, PARQUET)
    assert status == 400
    assert expected in message
