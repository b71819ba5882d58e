"""Batched inference without `Model.predict`'s per-call pipeline: the same outputs, in chunks."""

import numpy as np
import pytest

from fashion_vae.model import VAE, decode_logits, encode_images
from fashion_vae.model.inference import predict_in_chunks


@pytest.mark.parametrize("n", [1, 16, 300])
def test_encoding_and_decoding_equal_keras_predict(vae: VAE, n: int) -> None:
    images = np.random.default_rng(n).random((n, 28, 28, 1), dtype=np.float32)
    z_mean, z_log_var = encode_images(vae, images, batch_size=128)
    expected_mean, expected_log_var = vae.encoder.predict(images, batch_size=128, verbose=0)
    np.testing.assert_allclose(z_mean, expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z_log_var, expected_log_var, rtol=1e-5, atol=1e-6)
    logits = decode_logits(vae, z_mean, batch_size=128)
    np.testing.assert_allclose(
        logits, vae.decoder.predict(z_mean, batch_size=128, verbose=0), rtol=1e-5, atol=1e-5
    )


def test_a_large_input_goes_through_in_chunks_of_the_batch_size(
    vae: VAE, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = []
    step = vae.decoder.predict_on_batch

    def recorded(chunk: np.ndarray) -> np.ndarray:
        sizes.append(len(chunk))
        return step(chunk)

    monkeypatch.setattr(vae.decoder, "predict_on_batch", recorded)
    codes = np.zeros((300, vae.latent_dim), np.float32)
    assert predict_in_chunks(vae.decoder, codes, batch_size=128).shape == (300, 28, 28, 1)
    assert sizes == [128, 128, 44]
