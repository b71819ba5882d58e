"""The autoregressive head: masked convolutions, raster-order drawing, training and scoring."""

from pathlib import Path

import keras
import numpy as np
import pytest
from configs import section, vae_config
from pydantic import ValidationError

from fashion_vae.model import build_vae, decode_latents, encode_images
from fashion_vae.model.autoregressive import MaskedConv2D, causal_offsets
from fashion_vae.parameters import VAEConfig
from fashion_vae.pipelines.evaluate.nodes import binarized_likelihood, likelihood_metrics

LATENT_DIM = 3


def autoregressive_config(**changes: object) -> VAEConfig:
    """A tiny two-level architecture with a 5 × 5 masked head of 4 channels."""
    config = {
        "encoder_filters": [4, 8],
        "encoder_dense_units": [],
        "decoder_filters": [8, 4],
        "decoder_dense_units": [],
        "dtype_policy": "float32",
        "autoregressive_channels": 4,
        "autoregressive_kernel_size": 5,
    }
    return vae_config(LATENT_DIM, **{**config, **changes})


def with_random_head(seed: int = 0) -> keras.Model:
    """A tiny autoregressive VAE whose head's residual is not zero, as after training."""
    vae = build_vae(autoregressive_config(), seed=seed)
    rng = np.random.default_rng(seed)
    for weight in vae.pixel_head.residual.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    return vae


@pytest.fixture
def binary_images() -> np.ndarray:
    return (np.random.default_rng(0).random((8, 28, 28, 1)) < 0.4).astype(np.float32)


def numpy(tensor: object) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def test_a_masked_kernel_sees_the_rows_above_and_the_pixels_left_of_the_centre() -> None:
    assert causal_offsets(3) == [(-1, -1), (-1, 0), (-1, 1), (0, -1)]
    assert len(causal_offsets(7)) == 7 * 7 // 2
    with pytest.raises(ValueError, match="kernel_size is 4; expected an odd size"):
        MaskedConv2D(2, 4)


@pytest.mark.parametrize("pixel", [0, 27, 28 * 14 + 13, 28 * 28 - 1])
def test_changing_a_pixel_moves_no_logit_at_or_before_it(
    binary_images: np.ndarray, pixel: int
) -> None:
    vae = with_random_head()
    z = np.random.default_rng(1).normal(size=(len(binary_images), LATENT_DIM)).astype("float32")
    features = vae.decoder_features(z)
    changed = binary_images.copy()
    changed.reshape(len(changed), -1)[:, pixel] = 1 - changed.reshape(len(changed), -1)[:, pixel]
    before = numpy(vae.pixel_head(features, binary_images)).reshape(len(z), -1)
    after = numpy(vae.pixel_head(features, changed)).reshape(len(z), -1)
    np.testing.assert_array_equal(after[:, : pixel + 1], before[:, : pixel + 1])
    if pixel < 28 * 28 - 1:
        assert not np.allclose(after[:, pixel + 1 :], before[:, pixel + 1 :])


def test_a_draw_is_each_pixel_drawn_from_the_head_given_the_pixels_before_it() -> None:
    vae = with_random_head()
    z = np.random.default_rng(2).normal(size=(6, LATENT_DIM)).astype("float32")
    drawn_logits = numpy(vae.decoder.predict(z, verbose=0))
    # The image the draw made: each pixel 1 where the model's uniform number fell below p.
    noise = vae.pixel_head.noise.reshape(1, 28, 28, 1)
    drawn = (noise < 1 / (1 + np.exp(-drawn_logits))).astype(np.float32)
    assert 0 < drawn.mean() < 1
    # Scored in one pass given that image, each pixel has the logit it was drawn with.
    scored = numpy(vae.pixel_head(vae.decoder_features(z), drawn))
    np.testing.assert_allclose(scored, drawn_logits, atol=1e-4)


def test_a_code_decodes_to_the_same_image_in_any_batch_and_by_seed() -> None:
    vae = with_random_head()
    z = np.random.default_rng(3).normal(size=(5, LATENT_DIM)).astype("float32")
    decoded = decode_latents(vae, z, 5)
    np.testing.assert_array_equal(decode_latents(vae, z, 5), decoded)
    np.testing.assert_allclose(decode_latents(vae, z[2:3], 1), decoded[2:3], atol=1e-6)
    np.testing.assert_allclose(numpy(vae.decode(z)), decoded, atol=1e-6)
    other_seed = with_random_head()
    other_seed.pixel_head.noise = np.random.default_rng(9).random(28 * 28, dtype=np.float32)
    assert not np.allclose(decode_latents(other_seed, z, 5), decoded)


def test_an_autoregressive_model_trains_saves_and_loads_in_safe_mode(
    binary_images: np.ndarray, tmp_path: Path
) -> None:
    vae = build_vae(autoregressive_config(), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    residual = vae.pixel_head.residual.kernel
    history = vae.fit(binary_images, epochs=3, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert np.any(numpy(residual) != 0)  # the head learned from the neighbours
    path = tmp_path / "autoregressive.keras"
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.pixel_head is not None
    for a, b in zip(loaded.weights, vae.weights, strict=True):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    codes, _ = encode_images(loaded, binary_images, 4)
    np.testing.assert_array_equal(decode_latents(loaded, codes, 4), decode_latents(vae, codes, 4))


def test_the_likelihood_bounds_of_an_autoregressive_model_are_ordered(
    binary_images: np.ndarray,
) -> None:
    vae = with_random_head()
    z_mean, z_log_var = encode_images(vae, binary_images, 4)
    result = likelihood_metrics(
        vae, binary_images, z_mean, z_log_var, n_samples=2, iwae_samples=20, batch_size=4, seed=0
    )
    elbo, bound = result["elbo"], result["log_likelihood"]
    assert bound["negative_log_likelihood_iwae"] <= elbo["negative_elbo_monte_carlo"]
    # Grey test images are not what the head was trained on: the metrics say so.
    assert "binarized_log_likelihood" in bound["conditioning"]
    plain = build_vae(autoregressive_config(autoregressive_channels=0), seed=0)
    plain_result = likelihood_metrics(
        plain, binary_images, z_mean, z_log_var, n_samples=1, iwae_samples=2, batch_size=4, seed=0
    )
    assert "conditioning" not in plain_result["log_likelihood"]
    evaluate = section("evaluate", binarized_images=4, binarized_samples=10, batch_size=4)
    binarized = binarized_likelihood(vae, binary_images, evaluate, seed=0)
    assert binarized["negative_log_likelihood"] <= binarized["negative_elbo"]


def test_an_even_kernel_or_a_head_with_a_ladder_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="autoregressive_kernel_size is 6; expected an odd"):
        autoregressive_config(autoregressive_kernel_size=6)
    with pytest.raises(ValidationError, match="autoregressive_channels is 4 and ladder_channels 2"):
        autoregressive_config(
            encoder_filters=[4, 8, 8], decoder_filters=[8, 8, 4], ladder_channels=2
        )


def test_binarize_auto_binarizes_for_an_autoregressive_preset_only() -> None:
    training = section("training", preset="autoregressive", binarize="auto")
    assert training.binarized
    assert not section("training", preset="default", binarize="auto").binarized
    assert section("training", preset="default", binarize="dynamic").binarized
    with pytest.raises(ValidationError, match="training.binarize is 'none' but preset"):
        section("training", preset="autoregressive", binarize="none")
