"""The ladder: a second, spatial latent between the decoder's first level and the rest."""

import functools
from pathlib import Path

import keras
import numpy as np
import pytest
from configs import section, vae_config
from pydantic import ValidationError

from fashion_vae.model import VAE, build_vae, decode_latents, encode_images
from fashion_vae.parameters import VAEConfig
from fashion_vae.pipelines.evaluate.nodes import binarized_likelihood, likelihood_metrics

LATENT_DIM = 3
CHANNELS = 2


def ladder_config(**changes: object) -> VAEConfig:
    """A tiny three-level architecture with a ladder at the 7 × 7 level."""
    config = {
        "encoder_filters": [4, 8, 8],
        "encoder_dense_units": [],
        "decoder_filters": [8, 8, 4],
        "decoder_dense_units": [],
        "ladder_channels": CHANNELS,
    }
    return vae_config(LATENT_DIM, **{**config, **changes})


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)


def test_the_ladder_sits_at_the_encoder_level_of_its_side() -> None:
    vae = build_vae(ladder_config(), seed=0)
    ladder = vae.decoder.get_layer("ladder")
    assert vae.has_ladder and not build_vae(ladder_config(ladder_channels=0)).has_ladder
    assert ladder.context_layer == "conv_1"
    assert vae.encoder.get_layer("conv_1").output.shape[1:3] == (7, 7)
    assert vae.decoder.get_layer("decoder_top").output.shape[1:] == (7, 7, 8)


@pytest.mark.parametrize(
    ("encoder_filters", "decoder_filters"), [([4], [4]), ([4, 8, 8], [8, 4]), ([4, 8], [8])]
)
def test_a_ladder_without_matching_levels_is_refused_by_name(
    encoder_filters: list[int], decoder_filters: list[int]
) -> None:
    with pytest.raises(ValidationError, match=r"ladder_channels is 2 but encoder_filters has"):
        ladder_config(encoder_filters=encoder_filters, decoder_filters=decoder_filters)


def test_the_second_latents_kl_is_the_mean_of_its_log_ratio(images: np.ndarray) -> None:
    vae = build_vae(ladder_config(), seed=0)
    _, _, context = vae.encoder_with_context(images[:1])
    features = vae.decoder.get_layer("decoder_top")(np.zeros((1, 3)))
    # 3,000 independent draws: the one image's features, repeated along the batch.
    repeat = functools.partial(np.repeat, repeats=3000, axis=0)
    draws = vae.ladder.posterior(
        repeat(keras.ops.convert_to_numpy(features)), repeat(keras.ops.convert_to_numpy(context))
    )
    kl = keras.ops.convert_to_numpy(draws["kl"])
    minus_log_ratio = -keras.ops.convert_to_numpy(draws["log_ratio"])
    assert np.allclose(kl, kl[0]) and kl[0] > 0
    assert minus_log_ratio.std() > 0  # a fresh draw for each row
    # KL(q || p) = E_q[log q − log p], within four standard errors of 3,000 draws.
    error = minus_log_ratio.std() / np.sqrt(len(minus_log_ratio))
    assert abs(minus_log_ratio.mean() - kl[0]) < 4 * error


def test_a_ladder_model_trains_saves_and_loads_in_safe_mode(
    images: np.ndarray, tmp_path: Path
) -> None:
    vae = build_vae(ladder_config(), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    correction = vae.decoder.get_layer("ladder").correction
    before = keras.ops.convert_to_numpy(correction.kernel).copy()
    history = vae.fit(images, epochs=3, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    # The KL tracked in training includes the second latent's, so it exceeds the top's alone.
    assert history.history["kl"][-1] > 0
    assert not np.allclose(keras.ops.convert_to_numpy(correction.kernel), before)
    path = tmp_path / "ladder.keras"
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.has_ladder
    for a, b in zip(loaded.weights, vae.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    codes, _ = encode_images(loaded, images, 8)
    np.testing.assert_allclose(codes, encode_images(vae, images, 8)[0], atol=1e-6)
    decoded = decode_latents(loaded, codes, 8)
    # Decoding takes the second latent at its prior mean: the same image every time.
    np.testing.assert_array_equal(decoded, decode_latents(loaded, codes, 8))
    np.testing.assert_allclose(decoded, decode_latents(vae, codes, 8), atol=1e-6)


def test_the_likelihood_bounds_of_a_ladder_model_are_ordered(images: np.ndarray) -> None:
    vae = build_vae(ladder_config(), seed=0)
    z_mean, z_log_var = encode_images(vae, images, 8)
    result = likelihood_metrics(
        vae, images, z_mean, z_log_var, n_samples=2, iwae_samples=20, batch_size=8, seed=0
    )
    elbo, bound = result["elbo"], result["log_likelihood"]
    # The KL counts both latents: the total from the same draws, not the top's closed form.
    assert elbo["kl"] > 0
    assert elbo["negative_elbo"] == pytest.approx(elbo["reconstruction"] + elbo["kl"])
    assert elbo["negative_elbo"] == pytest.approx(elbo["negative_elbo_monte_carlo"])
    assert bound["negative_log_likelihood_iwae"] <= elbo["negative_elbo_monte_carlo"]
    evaluate = section("evaluate", binarized_images=4, binarized_samples=10, batch_size=4)
    binarized = binarized_likelihood(vae, images, evaluate, seed=0)
    assert binarized["negative_log_likelihood"] <= binarized["negative_elbo"]


def test_the_likelihood_encodes_each_batch_once_for_all_its_draws(
    images: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    vae = build_vae(ladder_config(), seed=0)
    z_mean, z_log_var = encode_images(vae, images, 8)
    encoded = []
    ladder_context = VAE.ladder_context

    def counted(self: VAE, batch: np.ndarray) -> object:
        encoded.append(len(batch))
        return ladder_context(self, batch)

    monkeypatch.setattr(VAE, "ladder_context", counted)
    likelihood_metrics(
        vae, images, z_mean, z_log_var, n_samples=2, iwae_samples=20, batch_size=8, seed=0
    )
    assert encoded == [8, 8]  # two batches of 8 images, 20 draws each


def test_a_model_without_a_ladder_scores_without_encoding(
    images: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    vae = build_vae(ladder_config(ladder_channels=0), seed=0)
    z_mean, z_log_var = encode_images(vae, images, 8)

    def no_encoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the likelihood of a model without a ladder ran its encoder")

    monkeypatch.setattr(vae.encoder, "call", no_encoding)
    result = likelihood_metrics(
        vae, images, z_mean, z_log_var, n_samples=2, iwae_samples=5, batch_size=8, seed=0
    )
    assert result["log_likelihood"]["negative_log_likelihood_iwae"] > 0
