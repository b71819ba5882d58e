"""The latent density: mixtures fitted to synthetic codes, seeded sampling, JSON round trips."""

import json
import logging

import numpy as np
import pytest

from fashion_vae.model import VAE
from fashion_vae.model.latent_density import (
    COVARIANCE_TYPES,
    LatentDensity,
    LatentMixture,
    density_for,
    fit_latent_density,
    fit_mixture,
    modelled_dimensions,
    vae_digest,
)
from fashion_vae.runtime import hardware

CLASSES = ("left", "right", "top")
# Three well-separated clusters in dimensions 1, 3 and 4 of a 6-dimensional latent space.
CENTRES = np.array([[-4.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 5.0, 1.0]])
ACTIVE = [1, 3, 4]


def _codes(n_per_class: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic posterior means: clusters on the active dimensions, ~0 on the others."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    z = rng.normal(0.0, 0.01, size=(len(labels), 6))  # inactive: variance 1e-4
    z[:, ACTIVE] = CENTRES[labels] + rng.normal(0.0, 0.5, size=(len(labels), 3))
    return z.astype(np.float32), labels


def _fit(seed: int = 7, **overrides) -> LatentDensity:
    z, labels = _codes()
    kwargs = {
        "n_components": 3,
        "class_components": 2,
        "covariance_type": "full",
        "activity_threshold": 0.01,
        "rng": np.random.default_rng(seed),
        "model_digest": "abc",
        **overrides,
    }
    return fit_latent_density(z, labels, CLASSES, **kwargs)


def test_the_active_dimensions_are_modelled_and_the_rest_drawn_from_the_prior() -> None:
    density = _fit()
    assert density.dimensions.tolist() == ACTIVE
    assert density.latent_dim == 6 and density.class_names == list(CLASSES)
    assert density.overall.means.shape == (3, 3) and density.overall.covariances.shape == (3, 3, 3)
    z = density.sample(3000, np.random.default_rng(0))
    assert z.shape == (3000, 6) and z.dtype == np.float32
    inactive = np.delete(z, ACTIVE, axis=1)
    np.testing.assert_allclose(np.std(inactive, axis=0), 1.0, atol=0.06)
    np.testing.assert_allclose(np.mean(inactive, axis=0), 0.0, atol=0.06)
    # The modelled dimensions follow the data: three clusters, a third of the draws each.
    nearest = np.argmin(np.linalg.norm(z[:, ACTIVE][:, None, :] - CENTRES[None], axis=2), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=3) / len(z), 1 / 3, atol=0.04)
    assert np.all(np.min(np.linalg.norm(z[:, ACTIVE][:, None] - CENTRES, axis=2), axis=1) < 3)


def test_the_fit_says_what_it_fits_before_it_starts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fashion_vae.model.latent_density"):
        _fit()
    first, *_ = caplog.messages
    assert first == (
        "Fitting a 3-component full mixture to 600 codes in 3 dimensions, then 2 per class; "
        f"{hardware.mixture_threads('auto', 3).describe('BLAS threads')}"
    )


def test_class_conditional_samples_come_from_that_class() -> None:
    density = _fit()
    rng = np.random.default_rng(1)
    for label, name in enumerate(CLASSES):
        z = density.sample(500, rng, class_name=name)[:, ACTIVE]
        np.testing.assert_allclose(z.mean(axis=0), CENTRES[label], atol=0.15)
        np.testing.assert_allclose(z.std(axis=0), 0.5, atol=0.1)
    with pytest.raises(ValueError, match="'middle'; expected one of left, right, top"):
        density.sample(1, rng, class_name="middle")


def test_fits_and_samples_are_seeded() -> None:
    first, again, other = _fit(seed=7), _fit(seed=7), _fit(seed=8)
    assert json.dumps(first.to_json()) == json.dumps(again.to_json())
    np.testing.assert_array_equal(
        first.sample(50, np.random.default_rng(3)), again.sample(50, np.random.default_rng(3))
    )
    assert not np.array_equal(
        first.sample(50, np.random.default_rng(3)), first.sample(50, np.random.default_rng(4))
    )
    # Another seed starts k-means elsewhere; the fitted numbers differ, if only slightly.
    assert json.dumps(other.to_json()) != json.dumps(first.to_json())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_reloaded_density_gives_identical_samples(covariance_type: str) -> None:
    density = _fit(covariance_type=covariance_type)
    stored = json.loads(json.dumps(density.to_json()))  # what json.JSONDataset writes and reads
    reloaded = LatentDensity.from_json(stored)
    assert reloaded.overall.covariance_type == covariance_type
    for name in (None, *CLASSES):
        np.testing.assert_array_equal(
            reloaded.sample(40, np.random.default_rng(5), class_name=name),
            density.sample(40, np.random.default_rng(5), class_name=name),
        )


def test_a_malformed_density_is_refused_naming_its_source() -> None:
    stored = _fit().to_json()
    with pytest.raises(ValueError, match="my_density is not a latent density"):
        LatentDensity.from_json({"weights": [1.0]}, "my_density")
    broken = json.loads(json.dumps(stored))
    broken["overall"]["covariances"] = broken["overall"]["covariances"][:2]
    with pytest.raises(
        ValueError, match=r"my_density is malformed \(ValueError: 'full' covariances .*\(3, 3, 3\)"
    ):
        LatentDensity.from_json(broken, "my_density")
    broken = json.loads(json.dumps(stored))
    broken["overall"]["covariances"][0] = (-np.eye(3)).tolist()
    with pytest.raises(ValueError, match="positive definite"):
        LatentDensity.from_json(broken, "my_density")
    broken = json.loads(json.dumps(stored))
    broken["dimensions"] = [1, 3, 9]
    with pytest.raises(ValueError, match=r"not all in 0\.\.5"):
        LatentDensity.from_json(broken, "my_density")


def test_a_collapsed_model_still_gets_its_most_varied_dimension_modelled() -> None:
    z = np.random.default_rng(0).normal(0.0, 0.01, size=(100, 4))
    z[:, 2] *= 3  # variance 9e-4: below the threshold, but the largest
    assert modelled_dimensions(z, 0.01).tolist() == [2]
    assert modelled_dimensions(z, 0.0).tolist() == [0, 1, 2, 3]


def test_too_many_components_for_the_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="5 mixture components need at least as many codes; got 4"):
        fit_mixture(np.zeros((4, 2)), n_components=5, covariance_type="diag", seed=0)
    z, labels = _codes(n_per_class=10)
    with pytest.raises(ValueError, match="class 'left' has 10 training images; 11 mixture"):
        fit_latent_density(
            z,
            labels,
            CLASSES,
            n_components=3,
            class_components=11,
            covariance_type="full",
            activity_threshold=0.01,
            rng=np.random.default_rng(0),
            model_digest="abc",
        )


def test_a_mixture_checks_its_numbers() -> None:
    with pytest.raises(ValueError, match="sum to 0.5; expected 1"):
        LatentMixture(np.array([0.25, 0.25]), np.zeros((2, 1)), np.ones(2), "spherical")
    with pytest.raises(ValueError, match="covariance_type is 'round'"):
        LatentMixture(np.array([1.0]), np.zeros((1, 1)), np.ones(1), "round")


def test_a_density_is_used_only_with_the_model_it_was_fitted_to(vae: VAE) -> None:
    z, labels = _codes()
    z = z[:, :4]  # the fixture VAE's latent size; dimensions 1 and 3 active
    kwargs = {
        "n_components": 2,
        "class_components": 1,
        "covariance_type": "diag",
        "activity_threshold": 0.01,
        "rng": np.random.default_rng(0),
    }
    mine = fit_latent_density(z, labels, CLASSES, model_digest=vae_digest(vae), **kwargs)
    assert density_for(vae, mine.to_json()).dimensions.tolist() == [1, 3]
    theirs = fit_latent_density(z, labels, CLASSES, model_digest="0" * 64, **kwargs)
    with pytest.raises(ValueError, match="latent_density was fitted to the codes of another"):
        density_for(vae, theirs.to_json())
    assert vae_digest(vae) == vae_digest(vae) and len(vae_digest(vae)) == 64


def test_a_temperature_scales_each_components_spread_around_its_mean() -> None:
    mixture = LatentMixture(
        weights=np.array([1.0]),
        means=np.array([[2.0, -1.0]]),
        covariances=np.array([[[4.0, 0.0], [0.0, 0.25]]]),
        covariance_type="full",
    )
    as_fitted = mixture.sample(20_000, np.random.default_rng(1))
    np.testing.assert_array_equal(mixture.sample(20_000, np.random.default_rng(1), 1.0), as_fitted)
    cooler = mixture.sample(20_000, np.random.default_rng(1), 0.5)
    np.testing.assert_allclose(np.mean(cooler, axis=0), [2.0, -1.0], atol=0.02)
    np.testing.assert_allclose(np.std(cooler, axis=0), [1.0, 0.25], rtol=0.03)
    # The same draws, pulled halfway to the mean.
    np.testing.assert_allclose(cooler - [2.0, -1.0], 0.5 * (as_fitted - [2.0, -1.0]))
    density = _fit()
    z = density.sample(500, np.random.default_rng(2), CLASSES[0], temperature=0.5)
    inactive = np.delete(z, ACTIVE, axis=1)  # the prior's dimensions keep their spread
    np.testing.assert_allclose(np.std(inactive, axis=0), 1.0, atol=0.1)
