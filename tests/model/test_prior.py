"""The prior: N(0, I) or the VampPrior, its densities, samples, KL, training and safe loading."""

from pathlib import Path

import keras
import numpy as np
import pytest
from configs import vae_config
from scipy import special, stats

from fashion_vae.model import (
    build_vae,
    encode_images,
    log_normal,
    log_prior,
    prior_components,
    sample_prior_codes,
)
from fashion_vae.parameters import VAEConfig

LATENT_DIM = 3


def vamp_config(pseudo_inputs: int = 5) -> VAEConfig:
    """A tiny architecture with the VampPrior."""
    return vae_config(
        LATENT_DIM,
        encoder_filters=[4, 8],
        encoder_dense_units=[],
        decoder_filters=[8, 4],
        decoder_dense_units=[],
        pseudo_inputs=pseudo_inputs,
    )


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)


def test_densities_match_scipy() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(size=(6, 4))
    mean, log_var = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    expected = stats.norm.logpdf(z, mean, np.exp(0.5 * log_var)).sum(axis=-1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(log_normal(z, mean, log_var)), expected)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(log_prior(z, None)), stats.norm.logpdf(z).sum(axis=-1)
    )
    # A mixture of three equally weighted diagonal Gaussians.
    means, log_vars = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    per_component = [
        stats.norm.logpdf(z, m, np.exp(0.5 * v)).sum(axis=-1)
        for m, v in zip(means, log_vars, strict=True)
    ]
    expected = special.logsumexp(per_component, axis=0) - np.log(3)
    actual = keras.ops.convert_to_numpy(log_prior(z, (means, log_vars)))
    np.testing.assert_allclose(actual, expected, rtol=1e-10)


def test_the_vamp_prior_is_the_mixture_of_the_pseudo_images_posteriors() -> None:
    vae = build_vae(vamp_config(), seed=0)
    pseudo = np.clip(keras.ops.convert_to_numpy(vae.pseudo_images), 0, 1)
    means, log_vars = prior_components(vae)
    expected_means, expected_log_vars = encode_images(vae, pseudo, 5)
    np.testing.assert_allclose(means, expected_means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_vars, expected_log_vars, rtol=1e-5, atol=1e-6)
    assert prior_components(build_vae(vamp_config(0), seed=0)) is None


def test_prior_samples_are_seeded_and_follow_the_components() -> None:
    vae = build_vae(vamp_config(pseudo_inputs=2), seed=0)
    means, log_vars = prior_components(vae)
    draws = sample_prior_codes(vae, 4000, np.random.default_rng(1))
    np.testing.assert_array_equal(draws, sample_prior_codes(vae, 4000, np.random.default_rng(1)))
    assert draws.dtype == np.float32 and draws.shape == (4000, LATENT_DIM)
    # An equal mixture of two Gaussians: its mean and variance per dimension.
    mixture_mean = means.mean(axis=0)
    mixture_var = (np.exp(log_vars) + means**2).mean(axis=0) - mixture_mean**2
    assert np.all(np.abs(draws.mean(axis=0) - mixture_mean) < 4 * np.sqrt(mixture_var / 4000))
    np.testing.assert_allclose(draws.var(axis=0), mixture_var, rtol=0.1)
    # N(0, I): the same draws as NumPy's standard normal.
    plain = build_vae(vamp_config(0), seed=0)
    np.testing.assert_array_equal(
        sample_prior_codes(plain, 5, np.random.default_rng(3)),
        np.random.default_rng(3).standard_normal((5, LATENT_DIM), dtype=np.float32),
    )


def test_the_vamp_kl_is_log_q_minus_log_p_of_the_sampled_code(images: np.ndarray) -> None:
    vae = build_vae(vamp_config(), seed=0)
    out = vae(images)
    z, z_mean, z_log_var = (
        keras.ops.convert_to_numpy(out[k]) for k in ("z", "z_mean", "z_log_var")
    )
    means, log_vars = prior_components(vae)
    log_q = stats.norm.logpdf(z, z_mean, np.exp(0.5 * z_log_var)).sum(axis=-1)
    log_p = special.logsumexp(
        [
            stats.norm.logpdf(z, m, np.exp(0.5 * v)).sum(axis=-1)
            for m, v in zip(means, log_vars, strict=True)
        ],
        axis=0,
    ) - np.log(len(means))
    kl = keras.ops.convert_to_numpy(vae.kl(out["z"], out["z_mean"], out["z_log_var"]))
    np.testing.assert_allclose(kl, log_q - log_p, rtol=1e-4, atol=1e-4)


def test_a_vamp_model_trains_its_pseudo_images_saves_and_loads_in_safe_mode(
    images: np.ndarray, tmp_path: Path
) -> None:
    vae = build_vae(vamp_config(), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = keras.ops.convert_to_numpy(vae.pseudo_images).copy()
    history = vae.fit(images, epochs=3, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.allclose(keras.ops.convert_to_numpy(vae.pseudo_images), before)
    path = tmp_path / "vamp.keras"
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.pseudo_inputs == 5
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.pseudo_images),
        keras.ops.convert_to_numpy(vae.pseudo_images),
    )
    for a, b in zip(prior_components(loaded), prior_components(vae), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    z = sample_prior_codes(loaded, 4, np.random.default_rng(0))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.decode(z)),
        keras.ops.convert_to_numpy(vae.decode(z)),
        atol=1e-6,
    )
