"""Behavioural tests for fashion_vae.evaluation.metrics on tiny, hand-checkable inputs."""

from __future__ import annotations

import logging
import math
import warnings

import keras
import numpy as np
import pytest
from scipy import stats

from fashion_vae.evaluation import metrics
from fashion_vae.model import log_normal, log_prior


def _gaussian_model_log_weights(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K x N log-weights for p(z)=N(0,1), p(x|z)=N(z,1) with a deliberately poor q, and log p(x)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, math.sqrt(2.0), size=(n, 1))  # marginal of the model is N(0, 2)
    # The exact posterior is N(x/2, 1/2); shift and widen q so the bound is visibly loose at K=1.
    q_mean = x / 2 + 0.5
    q_log_var = np.zeros_like(x)
    z = q_mean + rng.standard_normal((k, n, 1))
    log_w = keras.ops.convert_to_numpy(
        log_normal(x, z, np.zeros_like(z)) + log_prior(z, None) - log_normal(z, q_mean, q_log_var)
    )
    log_px = stats.norm.logpdf(x[:, 0], 0.0, math.sqrt(2.0))
    return log_w, log_px


def test_iwae_with_one_sample_equals_the_log_weight() -> None:
    log_w = np.random.default_rng(0).normal(-300.0, 20.0, size=(1, 7))
    np.testing.assert_allclose(metrics.iwae_bound(log_w, axis=0), log_w[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(metrics.iwae_bound(log_w.T, axis=1), log_w[0], rtol=0, atol=1e-9)


def test_iwae_bound_is_non_decreasing_in_k_and_below_log_evidence() -> None:
    log_w, log_px = _gaussian_model_log_weights(n=2000, k=50, seed=1)
    # Nested subsets of one fixed draw; the guarantee holds in expectation, hence the mean.
    b1, b5, b50 = (float(np.mean(metrics.iwae_bound(log_w[:k]))) for k in (1, 5, 50))
    assert b1 < b5 < b50
    assert b50 <= float(np.mean(log_px)) + 1e-3
    assert b5 - b1 > 0.05  # the poor q leaves a real gap, so the ordering is not noise


def test_iwae_bound_is_stable_for_very_negative_log_weights() -> None:
    offsets = np.array([[0.0], [-1.0], [2.5], [-30.0]])
    log_w = -1e5 + offsets
    with np.errstate(divide="ignore"):
        assert np.isneginf(np.log(np.mean(np.exp(log_w), axis=0)))[0]  # naive version underflows
    expected = -1e5 + math.log(np.mean(np.exp(offsets)))
    result = metrics.iwae_bound(log_w, axis=0)
    assert np.all(np.isfinite(result))
    np.testing.assert_allclose(result, [expected], rtol=0, atol=1e-8)


def test_kl_per_dimension() -> None:
    zeros = np.zeros((6, 3))
    np.testing.assert_allclose(metrics.kl_per_dimension(zeros, zeros), 0.0, atol=1e-15)
    z_mean = np.zeros((2, 3))
    z_mean[:, 1] = [1.0, 3.0]  # KL = mu^2 / 2 for unit variance: mean of 0.5 and 4.5
    z_log_var = np.zeros((2, 3))
    z_log_var[:, 2] = math.log(2.0)  # KL = (2 - 1 - log 2) / 2
    expected = [0.0, 2.5, 0.5 * (1.0 - math.log(2.0))]
    np.testing.assert_allclose(metrics.kl_per_dimension(z_mean, z_log_var), expected, rtol=1e-12)


def test_binary_entropy_floor() -> None:
    binary = (np.random.default_rng(3).random((4, 28, 28, 1)) > 0.5).astype(np.float32)
    assert metrics.binary_entropy_floor(binary) == 0.0
    half = np.full((3, 28, 28, 1), 0.5, dtype=np.float32)
    assert metrics.binary_entropy_floor(half) == pytest.approx(784 * math.log(2.0), rel=1e-12)


def test_psnr_and_ssim_are_maximal_for_identical_images() -> None:
    rng = np.random.default_rng(4)
    x = rng.random((5, 28, 28, 1)).astype(np.float32)
    noisy = np.clip(x + rng.normal(0.0, 0.1, size=x.shape), 0.0, 1.0).astype(np.float32)

    psnr_same = metrics.psnr_per_image(x, x)
    psnr_noisy = metrics.psnr_per_image(x, noisy)
    assert np.all(np.isposinf(psnr_same))
    assert np.all(np.isfinite(psnr_noisy)) and np.all(psnr_noisy < 30.0)
    mse = metrics.mse_per_image(x, noisy)
    np.testing.assert_allclose(psnr_noisy, 10.0 * np.log10(1.0 / mse), rtol=1e-12)
    assert metrics.mean_psnr(x, x) == 100.0
    assert metrics.mean_psnr(x, noisy) == pytest.approx(float(np.mean(psnr_noisy)))

    noisier = np.clip(x + rng.normal(0.0, 0.3, size=x.shape), 0.0, 1.0).astype(np.float32)
    ssim_same = metrics.ssim_per_image(x, x, batch_size=2)
    ssim_noisy = metrics.ssim_per_image(x, noisy, batch_size=2)
    ssim_noisier = metrics.ssim_per_image(x, noisier, batch_size=2)
    assert ssim_same.dtype == np.float64 and ssim_same.shape == (5,)
    np.testing.assert_allclose(ssim_same, 1.0, atol=1e-5)
    assert np.all(ssim_noisy < ssim_same - 0.01)
    assert np.all(ssim_noisier < ssim_noisy - 0.05)
    # Batching must not change the result.
    np.testing.assert_allclose(metrics.ssim_per_image(x, noisy), ssim_noisy, rtol=1e-6)


def test_frechet_distance_identity_and_mean_shift() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8))
    scale = float(np.trace(np.cov(a, rowvar=False)))
    assert metrics.frechet_distance(a, a) < 1e-6 * scale
    shift = np.arange(8, dtype=np.float64) / 4
    # A pure translation keeps the covariance, so only ||shift||^2 remains.
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    assert metrics.frechet_distance(a, 2.0 * a) > 0.1 * scale


def test_frechet_distance_singular_covariances_stay_finite() -> None:
    rng = np.random.default_rng(6)
    a = rng.normal(size=(10, 20))  # fewer samples than features: rank-deficient covariances
    b = rng.normal(size=(10, 20)) + 1.0
    a[:, 0] = 3.0  # a constant feature makes the covariance product exactly singular
    dist = metrics.frechet_distance(a, b)
    assert np.isfinite(dist) and dist > 0.0


def test_active_units_counts_dims_with_varying_posterior_mean() -> None:
    rng = np.random.default_rng(7)
    z_mean = np.concatenate(
        [rng.normal(0.0, 1.0, size=(1000, 3)), rng.normal(0.0, 1e-2, size=(1000, 2))], axis=1
    )  # variances ~1 for three dims and ~1e-4 for two
    assert metrics.active_units(z_mean) == 3
    assert metrics.active_units(z_mean, threshold=1e-6) == 5


def test_class_distribution_constructed_case() -> None:
    probs = np.array(
        [[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.1, 0.8, 0.1], [0.4, 0.3, 0.3]], dtype=np.float32
    )  # argmax -> classes 0, 0, 1, 0; class 2 is never predicted
    result = metrics.class_distribution(probs)
    assert result["shares"] == [0.75, 0.25, 0.0]
    assert all(type(s) is float for s in result["shares"])
    assert result["entropy"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert result["max_entropy"] == pytest.approx(math.log(3))
    assert result["largest_class_share"] == 0.75
    assert result["smallest_class_share"] == 0.0
    uniform = metrics.class_distribution(np.eye(4))
    assert uniform["entropy"] == pytest.approx(math.log(4))


def _separable_problem(seed: int) -> tuple[np.ndarray, ...]:
    """Three tight, far-apart clusters in 5 dims, split into train and test."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 5) * 20.0
    labels = rng.integers(0, 3, size=450)
    features = centres[labels] + rng.normal(size=(450, 5))
    return features[:300], labels[:300], features[300:], labels[300:]


@pytest.mark.parametrize("name", ["knn", "linear"])
def test_probes_separable_is_perfect_and_shuffled_is_chance(name: str) -> None:
    x_tr, y_tr, x_te, y_te = _separable_problem(seed=8)

    def probe(ytr: np.ndarray, yte: np.ndarray) -> float:
        if name == "knn":
            return metrics.knn_accuracy(x_tr, ytr, x_te, yte, k=5, batch_size=32)
        return metrics.linear_probe_accuracy(x_tr, ytr, x_te, yte, seed=0)

    assert probe(y_tr, y_te) == 1.0
    rng = np.random.default_rng(9)
    shuffled = probe(rng.permutation(y_tr), rng.permutation(y_te))
    assert abs(shuffled - 1 / 3) < 0.12


def test_knn_vote_ties_go_to_the_smallest_label() -> None:
    train = np.array([[0.0], [0.5], [10.0]])
    labels = np.array([1, 0, 0])
    # Neighbours of 0.1 with k=2 are 0.0 (label 1, nearest) and 0.5 (label 0): a 1-1 vote tie.
    assert metrics.knn_accuracy(train, labels, np.array([[0.1]]), np.array([0]), k=2) == 1.0


def test_a_capped_probe_fit_says_so_in_the_log_not_as_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 20))
    labels = rng.integers(0, 10, size=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with caplog.at_level(logging.INFO, logger="fashion_vae.evaluation.metrics"):
            accuracy = metrics.linear_probe_accuracy(
                features, labels, features, labels, seed=0, max_iter=2
            )
    assert 0 <= accuracy <= 1
    assert "stopped at max_iter = 2, before converging" in caplog.text
