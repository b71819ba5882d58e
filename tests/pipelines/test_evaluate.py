"""The evaluate nodes on a tiny untrained VAE, and every pipeline end to end on the test env."""

import html
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np
import pytest
import yaml
from configs import section, vae_config
from PIL import Image
from pydantic import ValidationError
from scipy import special, stats

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.evaluation import likelihood, metrics
from fashion_vae.evaluation.likelihood import (
    StreamedBounds,
    binarize,
    binarized_test_sample,
    likelihood_scorer,
)
from fashion_vae.model import VAE, build_classifier, build_vae, encode_images
from fashion_vae.model.latent_density import (
    LatentDensity,
    LatentMixture,
    fit_latent_density,
    vae_digest,
)
from fashion_vae.parameters import EvaluateParameters, FeatureClassifierParameters
from fashion_vae.pipelines.evaluate.nodes import (
    assemble_metrics,
    binarized_likelihood,
    feature_learning_metrics,
    generation_metrics,
    latent_metrics,
    likelihood_metrics,
    reconstruction_metrics,
    sample_class_conditional,
    sample_latent_mixture,
    sample_prior,
)
from fashion_vae.pipelines.report import nodes as report_nodes
from fashion_vae.pipelines.report.pipeline import FIGURES
from fashion_vae.reporting import flatten_metrics

BASE_PARAMETERS = Path(__file__).resolve().parents[2] / "conf/base/parameters_evaluate.yml"

# Every key of the metrics JSON, section by section (per-class entries checked separately).
EXPECTED_KEYS = {
    "run": {
        "model_latent_dim",
        "n_test_images",
        "seed",
        "parameters",
    },
    "elbo": {
        "negative_elbo",
        "reconstruction",
        "kl",
        "standard_error",
        "negative_elbo_monte_carlo",
        "n_samples",
        "units",
    },
    "log_likelihood": {
        "negative_log_likelihood_iwae",
        "standard_error",
        "iwae_samples",
        "gap_to_negative_elbo",
        "data_entropy_floor",
        "above_floor",
        "likelihood",
        "units",
    },
    "binarized_log_likelihood": {
        "negative_log_likelihood",
        "standard_error",
        "negative_elbo",
        "n_images",
        "n_test_images",
        "sample",
        "importance_samples",
        "binarize_seed",
        "protocol",
        "units",
    },
    "reconstruction": {"mse", "psnr_db", "ssim", "n_images", "per_class"},
    "latent": {"latent_dim", "active_units", "active_unit_threshold", "kl_per_dimension"},
    "feature_learning": {
        "linear_probe_accuracy",
        "knn_accuracy",
        "knn_k",
        "n_train",
        "n_test",
        "features",
    },
    "generation": {
        "description",
        "fid_real_reference",
        "reference_description",
        "n_reference",
        "classifier_test_accuracy",
        "prior",
        "gmm",
        "class_conditional",
    },
}
SAMPLER_KEYS = {"fid_fashion_classifier", "n_generated", "class_distribution"}
MIXTURE_KEYS = {
    "n_components",
    "class_components",
    "covariance_type",
    "modelled_dimensions",
    "activity_threshold",
}
CLASS_CONDITIONAL_KEYS = {
    "accuracy",
    "per_class",
    "n_per_class",
    "temperature",
    "real_per_class",
    "description",
}


@pytest.fixture
def data(real_images: np.ndarray) -> dict[str, np.ndarray]:
    """200 test and 300 training images with labels cycling through the ten classes."""
    return {
        "test": real_images[:200],
        "test_labels": (np.arange(200) % 10).astype(np.uint8),
        "train": real_images[200:500],
        "train_labels": (np.arange(300) % 10).astype(np.uint8),
    }


def _likelihood(vae: VAE, images: np.ndarray, **overrides: Any) -> dict[str, Any]:
    z_mean, z_log_var = encode_images(vae, images, batch_size=64)
    kwargs = {"n_samples": 8, "iwae_samples": 8, "batch_size": 64, "seed": 1, **overrides}
    return likelihood_metrics(vae, images, z_mean, z_log_var, **kwargs)


def test_encoding_does_not_depend_on_the_batch_size(vae: VAE, data: dict) -> None:
    z_mean, z_log_var = encode_images(vae, data["test"], batch_size=200)
    assert z_mean.shape == z_log_var.shape == (200, 4) and z_mean.dtype == np.float32
    small_batches = encode_images(vae, data["test"], batch_size=7)
    np.testing.assert_allclose(small_batches[0], z_mean, atol=1e-5)
    np.testing.assert_allclose(small_batches[1], z_log_var, atol=1e-5)


def test_the_likelihood_scorer_is_the_bernoulli_log_likelihood(vae: VAE, data: dict) -> None:
    images = data["test"][:16]
    z = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    got, lower_log_ratio = likelihood_scorer(vae).predict_on_batch([images, z])
    np.testing.assert_array_equal(lower_log_ratio, 0)  # no second latent
    logits = np.asarray(vae.decoder(z), dtype=np.float64)
    # x log σ(l) + (1 − x) log σ(−l) = x·l − log(1 + e^l), in float64.
    per_pixel = images * logits - np.logaddexp(0.0, logits)
    expected = per_pixel.reshape(len(images), -1).sum(axis=1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-2)


@pytest.mark.parametrize("shards", [2, 3])
def test_batches_split_into_shards_give_the_same_numbers(
    vae: VAE, data: dict, shards: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = data["test"][:13]
    z = np.random.default_rng(0).standard_normal((13, 4)).astype(np.float32)
    whole_posterior = encode_images(vae, images, batch_size=5)
    whole_scores = likelihood_scorer(vae).predict_on_batch([images, z])
    # Batches of 5, 5 and 3 images; with 3 shards the last has slices of one image each.
    monkeypatch.setattr(vae, "batch_shards", shards)
    posterior = encode_images(vae, images, batch_size=5)
    for got, expected in zip(posterior, whole_posterior, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    scores = likelihood_scorer(vae).predict_on_batch([images, z])
    np.testing.assert_allclose(scores, whole_scores, rtol=1e-5, atol=1e-3)


def test_iwae_bound_is_tighter_than_the_elbo(vae: VAE, data: dict) -> None:
    result = _likelihood(vae, data["test"])
    elbo, likelihood = result["elbo"], result["log_likelihood"]
    assert elbo["negative_elbo"] == pytest.approx(elbo["reconstruction"] + elbo["kl"])
    # With n_samples == K, log-mean-exp ≥ mean of the same log-weights holds for every image.
    nll = likelihood["negative_log_likelihood_iwae"]
    assert nll <= elbo["negative_elbo_monte_carlo"] + 1e-9
    assert likelihood["gap_to_negative_elbo"] > 0
    assert likelihood["data_entropy_floor"] == pytest.approx(
        metrics.binary_entropy_floor(data["test"])
    )
    assert likelihood["above_floor"] > 0
    assert elbo["kl"] >= 0 and elbo["standard_error"] > 0


def test_likelihood_is_seeded_and_elbo_uses_the_first_samples(vae: VAE, data: dict) -> None:
    images = data["test"][:64]
    first = _likelihood(vae, images)
    assert _likelihood(vae, images)["log_likelihood"] == first["log_likelihood"]
    assert _likelihood(vae, images, seed=2)["log_likelihood"] != first["log_likelihood"]
    # The same K draws, fewer of them in the ELBO: the IWAE bound does not change.
    fewer = _likelihood(vae, images, n_samples=1)
    nll = "negative_log_likelihood_iwae"
    assert fewer["log_likelihood"][nll] == first["log_likelihood"][nll]
    assert fewer["elbo"]["negative_elbo"] != first["elbo"]["negative_elbo"]
    assert fewer["elbo"]["n_samples"] == 1
    with pytest.raises(ValueError, match="n_samples is 9"):
        _likelihood(vae, images, n_samples=9)


def test_binarization_is_fixed_by_its_seed(data: dict) -> None:
    images = data["test"]
    once = binarize(images, 777)
    assert once.dtype == np.float32 and set(np.unique(once)) <= {0.0, 1.0}
    np.testing.assert_array_equal(binarize(images, 777), once)
    assert not np.array_equal(binarize(images, 778), once)
    assert np.all(once[images == 0] == 0) and np.all(once[images == 1] == 1)
    # Each pixel is 1 with the probability of its intensity.
    assert abs(float(np.mean(once)) - float(np.mean(images))) < 0.01


def test_binarized_likelihood_matches_the_exact_one_of_a_one_dimensional_model(
    data: dict,
) -> None:
    """With one latent dimension, log p(x) = log ∫ p(x|z) N(z; 0, 1) dz by quadrature."""
    config = vae_config(
        1,
        encoder_filters=[4],
        encoder_dense_units=[],
        decoder_filters=[4],
        decoder_dense_units=[8],
    )
    vae = build_vae(config, seed=3)
    evaluate = section("evaluate", binarized_images=4, binarized_samples=2000, batch_size=4)
    result = binarized_likelihood(vae, data["test"], evaluate, seed=1)
    _, binarized = binarized_test_sample(data["test"], 4, 777)
    grid = np.linspace(-10, 10, 4001, dtype=np.float32)[:, None]
    logits = np.asarray(vae.decoder.predict(grid, batch_size=4001, verbose=0), dtype=np.float64)
    exact = []
    for image in binarized:
        log_likelihood = -np.sum(
            np.logaddexp(0, logits) - image[None].astype(np.float64) * logits, axis=(1, 2, 3)
        )
        log_joint = log_likelihood + stats.norm.logpdf(grid[:, 0].astype(np.float64))
        exact.append(-(special.logsumexp(log_joint) + np.log(grid[1, 0] - grid[0, 0])))
    exact = float(np.mean(exact))
    nll, negative_elbo = result["negative_log_likelihood"], result["negative_elbo"]
    # An importance-sampling bound: not below the exact -log p(x) (up to its sampling noise),
    # within a nat of it with K = 2,000 (of about 540), and on the same draws it closes most of
    # the ELBO's gap: a mean of the weights instead of their log-mean-exp would close none.
    assert exact - 0.1 <= nll <= exact + 1.0, (exact, nll)
    assert nll - exact <= 0.5 * (negative_elbo - exact), (exact, nll, negative_elbo)
    assert result["n_images"] == 4 and result["importance_samples"] == 2000
    assert result["sample"] == "random sample (binarize_seed)"


def test_the_binarized_sample_is_seeded_random_and_binarized_as_the_whole_set(
    data: dict,
) -> None:
    images = data["test"]
    indices, sample = binarized_test_sample(images, 20, 777)
    assert len(indices) == 20 and np.all(np.diff(indices) > 0)
    assert not np.array_equal(indices, np.arange(20))  # not the first images
    np.testing.assert_array_equal(sample, binarize(images, 777)[indices])
    again, _ = binarized_test_sample(images, 20, 777)
    np.testing.assert_array_equal(again, indices)
    everything, whole = binarized_test_sample(images, len(images) + 5, 777)
    np.testing.assert_array_equal(everything, np.arange(len(images)))
    np.testing.assert_array_equal(whole, binarize(images, 777))


def test_streamed_bounds_equal_the_bounds_of_all_weights_at_once() -> None:
    log_weights = np.random.default_rng(0).normal(-500, 30, size=(1000, 7))
    bounds = StreamedBounds(7)
    for chunk in np.array_split(log_weights, [3, 250, 251, 700]):
        bounds.add(chunk)
    np.testing.assert_allclose(bounds.iwae, metrics.iwae_bound(log_weights), rtol=1e-12)
    np.testing.assert_allclose(bounds.elbo, log_weights.mean(axis=0), rtol=1e-12)
    assert bounds.draws == 1000


def test_many_draws_stay_within_the_memory_of_one_chunk(
    vae: VAE, data: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(likelihood, "DRAWS_PER_CHUNK", 8)
    images = binarize(data["test"][:16], 777)
    posterior = encode_images(vae, images, 16)

    def peak(draws: int) -> int:
        tracemalloc.start()
        try:
            likelihood.importance_sampled_bounds(
                vae, images, posterior, draws=draws, batch_size=16, rng=np.random.default_rng(0)
            )
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(8)  # compiled once, outside the measurement
    few, many = peak(16), peak(400)
    # All 400 × 16 weights at once would add 51 kB of float64 (twice, with the likelihoods).
    assert many < few + 20_000, (few, many)


def test_reconstruction_metrics_overall_and_per_class(vae: VAE, data: dict) -> None:
    labels = data["test_labels"].copy()
    labels[labels == 9] = 8  # no "Ankle boot" left
    z_mean, _ = encode_images(vae, data["test"], batch_size=64)
    result = reconstruction_metrics(vae, data["test"], labels, z_mean, batch_size=64)
    assert 0 < result["mse"] < 1 and 0 < result["psnr_db"] < 100 and -1 <= result["ssim"] <= 1
    assert result["n_images"] == 200
    assert tuple(result["per_class"]) == CLASS_NAMES
    assert result["per_class"]["Bag"]["n_images"] == 40
    assert result["per_class"]["Ankle boot"] == {
        "mse": None,
        "psnr_db": None,
        "ssim": None,
        "n_images": 0,
    }
    per_image = metrics.mse_per_image(data["test"], np.asarray(vae.reconstruct(data["test"])))
    assert result["mse"] == pytest.approx(float(np.mean(per_image)), rel=1e-4)


def test_latent_metrics_summarise_every_dimension() -> None:
    rng = np.random.default_rng(0)
    z_mean = np.stack([rng.normal(0, 1, 500), np.full(500, 0.3), rng.normal(0, 0.01, 500)], 1)
    z_log_var = np.stack([np.full(500, -2.0), np.zeros(500), np.zeros(500)], 1)
    result = latent_metrics(z_mean, z_log_var)
    assert result["latent_dim"] == 3 and result["active_units"] == 1
    kl = result["kl_per_dimension"]
    assert len(kl["values"]) == 3 and kl["dims_above_threshold"] == 2
    assert kl["total"] == pytest.approx(sum(kl["values"])) and kl["max"] == max(kl["values"])


def test_feature_learning_on_a_seeded_training_subset(vae: VAE, data: dict) -> None:
    z_mean, _ = encode_images(vae, data["test"], batch_size=64)
    kwargs = {"knn_k": 3, "batch_size": 64, "seed": 0}
    result = feature_learning_metrics(
        vae,
        data["train"],
        data["train_labels"],
        z_mean,
        data["test_labels"],
        max_train_features=120,
        **kwargs,
    )
    assert result["n_train"] == 120 and result["n_test"] == 200 and result["knn_k"] == 3
    assert 0 <= result["linear_probe_accuracy"] <= 1 and 0 <= result["knn_accuracy"] <= 1
    with pytest.raises(ValueError, match="knn_k is 3; expected at most the 2 training"):
        feature_learning_metrics(
            vae,
            data["train"],
            data["train_labels"],
            z_mean,
            data["test_labels"],
            max_train_features=2,
            **kwargs,
        )


def _density(vae: VAE, data: dict) -> dict[str, Any]:
    """A latent density of the tiny VAE's training codes, as the catalog stores it."""
    z_mean, _ = encode_images(vae, data["train"], batch_size=64)
    density = fit_latent_density(
        z_mean,
        data["train_labels"],
        CLASS_NAMES,
        n_components=3,
        class_components=2,
        covariance_type="full",
        activity_threshold=0.0,
        rng=np.random.default_rng(0),
        model_digest=vae_digest(vae),
    )
    return json.loads(json.dumps(density.to_json()))


def test_samples_of_each_sampler_and_generation_metrics(vae: VAE, data: dict) -> None:
    samples = sample_prior(vae, data["test"], n_generated=150, batch_size=64, seed=3)
    assert samples.shape == (150, 28, 28, 1) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(sample_prior(vae, data["test"], 150, 64, seed=3), samples)
    density = _density(vae, data)
    mixture = sample_latent_mixture(vae, density, n_generated=120, batch_size=64, seed=3)
    assert mixture.shape == (120, 28, 28, 1)
    np.testing.assert_array_equal(sample_latent_mixture(vae, density, 120, 64, seed=3), mixture)
    assert not np.array_equal(sample_latent_mixture(vae, density, 120, 64, seed=4), mixture)
    per_class = sample_class_conditional(vae, density, n_per_class=6, batch_size=64, seed=3)
    assert per_class.shape == (10, 6, 28, 28, 1)
    cooler = sample_class_conditional(
        vae, density, n_per_class=6, batch_size=64, seed=3, temperature=0.5
    )
    assert not np.array_equal(cooler, per_class)

    classifier = build_classifier([4], dense_units=8, dropout=0.0)
    result = generation_metrics(
        classifier,
        data["test"],
        data["test_labels"],
        data["train"][:100],
        prior_samples=samples,
        mixture_samples=mixture,
        class_conditional_samples=per_class,
        latent_density=density,
        batch_size=64,
        class_temperature=0.5,
    )
    assert set(result) == EXPECTED_KEYS["generation"]
    assert result["class_conditional"]["temperature"] == 0.5
    assert result["fid_real_reference"] >= 0 and "not Inception FID" in result["description"]
    assert result["n_reference"] == 100 and 0 <= result["classifier_test_accuracy"] <= 1
    assert (
        set(result["prior"]) == SAMPLER_KEYS and set(result["gmm"]) == SAMPLER_KEYS | MIXTURE_KEYS
    )
    assert result["prior"]["n_generated"] == 150 and result["gmm"]["n_generated"] == 120
    assert result["gmm"]["n_components"] == 3 and result["gmm"]["modelled_dimensions"] == 4
    for sampler in ("prior", "gmm"):
        assert result[sampler]["fid_fashion_classifier"] >= 0
        distribution = result[sampler]["class_distribution"]
        assert tuple(distribution["shares"]) == CLASS_NAMES
        assert sum(distribution["shares"].values()) == pytest.approx(1.0)
        assert distribution["largest_class"] in CLASS_NAMES
        assert 0 <= distribution["entropy"] <= distribution["max_entropy"]
    conditional = result["class_conditional"]
    assert set(conditional) == CLASS_CONDITIONAL_KEYS and conditional["n_per_class"] == 6
    assert tuple(conditional["per_class"]) == tuple(conditional["real_per_class"]) == CLASS_NAMES
    assert conditional["accuracy"] == pytest.approx(
        np.mean(list(conditional["per_class"].values()))
    )


def test_class_conditional_accuracy_counts_the_classifier_s_hits() -> None:
    # A "classifier" that answers the class written in the image's first pixel.
    inputs = keras.Input((28, 28, 1))
    features = keras.layers.Lambda(lambda x: x[:, 0, :2, 0], name="features")(inputs)
    logits = keras.layers.Lambda(
        lambda f: -keras.ops.square(f[:, :1] * 9 - keras.ops.arange(10, dtype="float32"))
    )(features)
    classifier = keras.Model(inputs, logits)
    per_class = np.zeros((10, 4, 28, 28, 1), np.float32)
    for c in range(10):
        per_class[c, :, 0, 0, 0] = c / 9
    per_class[6, :3, 0, 0, 0] = 0  # three of four Shirts look like T-shirts
    real = np.repeat(per_class[:, 3], 2, axis=0)  # two real images per class, all recognised
    result = generation_metrics(
        classifier,
        real,
        np.repeat(np.arange(10), 2),
        real,
        prior_samples=real,
        mixture_samples=real,
        class_conditional_samples=per_class,
        latent_density=LatentDensity(
            latent_dim=1,
            dimensions=np.array([0]),
            overall=LatentMixture(np.ones(1), np.zeros((1, 1)), np.ones(1), "spherical"),
            per_class={},
            model_digest="",
            activity_threshold=0.0,
        ).to_json(),
        batch_size=16,
    )["class_conditional"]
    assert result["per_class"]["Shirt"] == 0.25
    assert all(share == 1.0 for name, share in result["per_class"].items() if name != "Shirt")
    assert result["accuracy"] == pytest.approx(9.25 / 10)
    assert set(result["real_per_class"].values()) == {1.0}


def test_images_of_the_wrong_shape_are_refused_naming_both_shapes(vae: VAE) -> None:
    wrong = np.zeros((5, 32, 32, 1), np.float32)
    message = r"vae_model expects images of shape \(N, 28, 28, 1\).*\(5, 32, 32, 1\)"
    with pytest.raises(ValueError, match=message):
        encode_images(vae, wrong, batch_size=8)
    with pytest.raises(ValueError, match=message):
        sample_prior(vae, wrong, n_generated=4, batch_size=8, seed=0)
    classifier = build_classifier([4], dense_units=8, dropout=0.0)
    with pytest.raises(ValueError, match=r"fashion_classifier expects .*\(5, 32, 32, 1\)"):
        generation_metrics(
            classifier,
            wrong,
            np.zeros(5),
            wrong,
            prior_samples=wrong,
            mixture_samples=wrong,
            class_conditional_samples=wrong[None],
            latent_density={},
            batch_size=8,
        )


def test_assemble_metrics_nests_the_sections_after_a_run_section() -> None:
    sections = {
        "likelihood": {"elbo": {"negative_elbo": 1.0}, "log_likelihood": {"iwae": 0.5}},
        "binarized_likelihood": {"negative_log_likelihood": 0.7},
        "reconstruction": {"mse": 0.1},
        "latent": {"active_units": 2},
        "feature_learning": {"knn_accuracy": 0.5},
        "generation": {"fid": 3.0},
    }
    evaluate = section("evaluate", batch_size=4)
    result = assemble_metrics(np.zeros((7, 3)), **sections, evaluate=evaluate, seed=5)
    assert list(result) == [
        "run",
        "elbo",
        "log_likelihood",
        "binarized_log_likelihood",
        "reconstruction",
        "latent",
        "feature_learning",
        "generation",
    ]
    assert result["binarized_log_likelihood"] == {"negative_log_likelihood": 0.7}
    assert result["run"]["model_latent_dim"] == 3 and result["run"]["n_test_images"] == 7
    assert result["run"]["parameters"] == evaluate.model_dump()
    assert result["log_likelihood"] == {"iwae": 0.5} and result["generation"] == {"fid": 3.0}
    assert json.loads(json.dumps(result)) == result  # plain JSON: no model objects, no timings


@pytest.fixture
def evaluate_parameters() -> dict[str, Any]:
    return yaml.safe_load(BASE_PARAMETERS.read_text())["evaluate"]


def test_base_evaluate_parameters_are_valid(evaluate_parameters: dict[str, Any]) -> None:
    assert EvaluateParameters.model_validate(evaluate_parameters).iwae_samples == 5


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("batch_size", 0, r"for evaluate\nbatch_size\n  Input should be greater than 0"),
        ("iwae_samples", "many", r"for evaluate\niwae_samples\n  Input should be a valid integer"),
        ("n_samples", 6, r"evaluate\.n_samples is 6; expected an integer from 1 to .*\(5\)"),
        ("knn_k", 0, r"for evaluate\nknn_k\n  Input should be greater than 0"),
        (
            "n_generated",
            1,
            r"for evaluate\nn_generated\n  Input should be greater than or equal to 2",
        ),
        ("max_train_features", 2, r"evaluate\.max_train_features is 2; expected at least .*\(5\)"),
        # Bounded work: counts a typo could make run for hours or fill the disk.
        (
            "iwae_samples",
            50_000,
            r"for evaluate\niwae_samples\n  Input should be less than or equal to 5000",
        ),
        (
            "n_generated",
            10**8,
            r"for evaluate\nn_generated\n  Input should be less than or equal to 100000",
        ),
        (
            "n_per_class",
            10**6,
            r"for evaluate\nn_per_class\n  Input should be less than or equal to 10000",
        ),
    ],
)
def test_bad_evaluate_parameters_are_refused_by_name(
    evaluate_parameters: dict[str, Any], key: str, value: Any, message: str
) -> None:
    evaluate_parameters[key] = value
    with pytest.raises(ValidationError, match=message):
        EvaluateParameters.model_validate(evaluate_parameters)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("conv_filters", [32, 64, 64, 64], r"conv_filters\n  List should have at most 3 items"),
        ("dropout", 1.0, r"dropout\n  Input should be less than 1 .*input_value=1\.0"),
        ("epochs", 0, r"epochs\n  Input should be greater than 0"),
        ("verbose", "loud", r"verbose\n  Input should be 'auto', 0, 1 or 2"),
    ],
)
def test_bad_feature_classifier_parameters_are_refused_by_name(
    key: str, value: Any, message: str
) -> None:
    parameters = yaml.safe_load(BASE_PARAMETERS.read_text())["feature_classifier"]
    FeatureClassifierParameters.model_validate(parameters)
    parameters[key] = value
    with pytest.raises(ValidationError, match="for feature_classifier\n" + message):
        FeatureClassifierParameters.model_validate(parameters)


def _versions(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def test_every_pipeline_end_to_end_writes_every_metric(
    complete_run: SimpleNamespace, copy_of: Callable, run_pipelines: Callable, tmp_path: Path
) -> None:
    project_copy = copy_of(complete_run.project, tmp_path / "project")
    output = project_copy / "data" / "test_env"
    metrics_dir = output / "08_reporting" / "metrics.json"
    (metrics_version,) = _versions(metrics_dir)
    result = json.loads((metrics_dir / metrics_version / "metrics.json").read_text("utf-8"))
    assert "Fréchet" in result["generation"]["description"]
    assert list(result) == list(EXPECTED_KEYS)
    for name, keys in EXPECTED_KEYS.items():
        assert set(result[name]) == keys, name
    assert result["run"]["n_test_images"] == 512 and result["run"]["model_latent_dim"] == 16
    assert result["run"]["parameters"]["iwae_samples"] == 4
    assert result["feature_learning"]["n_train"] == 768
    assert tuple(result["reconstruction"]["per_class"]) == CLASS_NAMES
    assert len(result["latent"]["kl_per_dimension"]["values"]) == 16
    generation = result["generation"]
    for sampler in ("prior", "gmm"):
        assert tuple(generation[sampler]["class_distribution"]["shares"]) == CLASS_NAMES
        assert generation[sampler]["n_generated"] == 256
    assert set(generation["gmm"]) == SAMPLER_KEYS | MIXTURE_KEYS
    assert generation["gmm"]["n_components"] == 8 and generation["gmm"]["class_components"] == 3
    assert set(generation["class_conditional"]) == CLASS_CONDITIONAL_KEYS
    assert tuple(generation["class_conditional"]["per_class"]) == CLASS_NAMES
    assert 0 <= generation["class_conditional"]["accuracy"] <= 1
    nll = result["log_likelihood"]["negative_log_likelihood_iwae"]
    assert result["log_likelihood"]["data_entropy_floor"] < nll < result["elbo"]["negative_elbo"]
    samples_dir = output / "07_model_output" / "generated_samples.npy"
    (samples_version,) = _versions(samples_dir)
    samples = np.load(samples_dir / samples_version / "generated_samples.npy")
    assert samples.shape == (256, 28, 28, 1)
    assert _versions(output / "07_model_output" / "test_posterior_mean.npy")
    (per_class_version,) = _versions(output / "07_model_output" / "class_conditional_samples.npy")
    per_class = np.load(
        output
        / "07_model_output"
        / "class_conditional_samples.npy"
        / per_class_version
        / "class_conditional_samples.npy"
    )
    assert per_class.shape == (10, 16, 28, 28, 1)

    # The report: a version of every figure, and one page that embeds them all and every metric.
    reporting = output / "08_reporting"
    for figure in FIGURES:
        assert len(_versions(reporting / f"{figure}.png")) == 1, figure
    (page_version,) = _versions(reporting / "report.html")
    page = (reporting / "report.html" / page_version / "report.html").read_text("utf-8")
    assert page.count("<img") == len(FIGURES) + 1  # and the animated GIF
    assert report_nodes.CAPTIONS["samples"] in page
    for key in flatten_metrics(result):
        assert html.escape(key) in page, key
    (gif_version,) = _versions(reporting / "training_progress.gif")
    with Image.open(
        reporting / "training_progress.gif" / gif_version / "training_progress.gif"
    ) as gif:
        assert gif.n_frames == 2  # one frame per epoch of the test environment's training

    # Test images of another size: refused before any output is written.
    np.save(output / "05_model_input" / "test_images.npy", np.zeros((8, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\).*\(8, 32, 32, 1\)"):
        run_pipelines(project_copy, "evaluate", "report")
    for name in ("08_reporting/metrics.json", "07_model_output/generated_samples.npy"):
        assert len(_versions(output / name)) == 1, name
    assert len(_versions(output / "07_model_output" / "test_posterior_mean.npy")) == 1
