"""Nodes of the evaluate pipeline: a stored VAE's test-set metrics, as one JSON-ready dict.

Images are float32 N×28×28×1 in [0, 1]. The Keras models run in batches (`predict`, or
`predict_on_batch`: one compiled graph per model and batch shape); the arithmetic on their
outputs is `fashion_vae.evaluation.metrics`, in float64. Each metric node returns one section of the
metrics JSON; their timings go to the log (see `fashion_vae.hooks.NodeTimingHook`), so that an
unchanged rerun gives byte-identical sections.
"""

import logging
from typing import Any

import keras
import numpy as np
from scipy import special

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.evaluation import metrics
from fashion_vae.model import (
    VAE,
    InShards,
    check_images_fit,
    check_vae_fits,
    decode_latents,
    encode_images,
    feature_extractor,
    kl_divergence,
    log_normal,
    log_prior,
    prior_components,
    sample_prior_codes,
)
from fashion_vae.model.latent_density import LatentDensity, density_for
from fashion_vae.parameters import EvaluateParameters

# Burda et al. (2016): a unit is active when its posterior mean varies across data by > 0.01.
ACTIVE_UNIT_THRESHOLD = 0.01
# A latent dimension "carries information" when its mean KL exceeds this many nats.
KL_DIMENSION_THRESHOLD = 0.01
BINARIZED_PROTOCOL = (
    "The first n_images test images, each pixel drawn once as a Bernoulli of its intensity "
    "(NumPy, binarize_seed); -log p(x) estimated by importance sampling with "
    "importance_samples draws from the encoder's posterior of the binarized image (the IWAE "
    "bound, which tends to -log p(x) as the draws grow). Published Fashion-MNIST tables use "
    "this protocol with all 10,000 images and 5,000 draws, on models trained on binarized "
    "images (here: training.binarize: dynamic)."
)
LIKELIHOOD_NOTE = (
    "Bernoulli likelihood on continuous pixels in [0, 1] (binary cross-entropy): not a "
    "normalized density for grey levels, so it cannot go below the data's own summed pixel "
    "binary entropy, reported as data_entropy_floor."
)
FID_DESCRIPTION = (
    "Fréchet distance in the feature space of a Fashion-MNIST classifier (not Inception FID)"
)
FID_REFERENCE_DESCRIPTION = (
    "The same distance between the real validation images and the real test images: what "
    "real data scores, with the bias of a smaller sample."
)
CLASS_CONDITIONAL_DESCRIPTION = (
    "Share of the images drawn from each class's latent mixture that the classifier assigns to "
    "that class (per_class), and its mean over the classes (accuracy); real_per_class is what "
    "the real test images of each class score. The draws are at temperature: each mixture "
    "component's spread scaled by it (1: as fitted)."
)
# Separate random streams under the one seed, so that no two draws share numbers.
logger = logging.getLogger(__name__)
_IWAE_STREAM, _PRIOR_STREAM, _SUBSET_STREAM, _MIXTURE_STREAM, _CLASS_STREAM = 1, 2, 3, 4, 5
_BINARIZED_STREAM = 6
# Importance samples between two progress lines of the binarized likelihood (about 12 s here).
_DRAWS_PER_LOG_LINE = 250


def _check_same_length(**arrays: np.ndarray) -> None:
    """Raise ValueError unless every array has the same first dimension."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"expected one row per image in each of {lengths}")


def _log_likelihood_model(vae: VAE) -> keras.Model:
    """A model (images, z[, the ladder's context]) → per image log p(x|z) and, with a ladder,
    the log-ratio of its second latent's one draw (`VAE.log_likelihood`)."""
    return InShards(lambda inputs: vae.log_likelihood(*inputs), vae.batch_shards)


def _importance_log_weights(
    vae: VAE,
    scorer: keras.Model,
    images: np.ndarray,
    z_mean: np.ndarray,
    z_log_var: np.ndarray,
    *,
    n_draws: int,
    rng: np.random.Generator,
    prior: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """K × B log p(x|z_k) and log-weights log p(x|z_k) + log p(z_k) − log q(z_k|x), the
    prior's `prior_components` given (with a ladder, log p(x|z_k, z₂) and its z₂'s log-ratio
    added to the weight, the images encoded once for all K)."""
    context = vae.ladder_context(images)
    ladder = [] if context is None else [keras.ops.convert_to_numpy(context)]
    std = np.exp(0.5 * z_log_var)
    z_mean64, z_log_var64 = z_mean.astype(np.float64), z_log_var.astype(np.float64)
    log_likelihood = np.empty((n_draws, len(images)))
    log_weights = np.empty((n_draws, len(images)))
    for k in range(n_draws):
        z = z_mean + std * rng.standard_normal(z_mean.shape, dtype=np.float32)
        log_likelihood[k], lower_log_ratio = scorer.predict_on_batch([images, z, *ladder])
        z64 = z.astype(np.float64)
        log_ratio = log_prior(z64, prior) - log_normal(z64, z_mean64, z_log_var64)
        log_weights[k] = log_likelihood[k] + lower_log_ratio + keras.ops.convert_to_numpy(log_ratio)
    return log_likelihood, log_weights


def _mean_and_error(values: np.ndarray) -> tuple[float, float | None]:
    """Mean and its standard error (None for a single value: JSON has no NaN)."""
    if len(values) < 2:
        return float(np.mean(values)), None
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))


def likelihood_metrics(
    vae: VAE,
    images: np.ndarray,
    z_mean: np.ndarray,
    z_log_var: np.ndarray,
    *,
    n_samples: int,
    iwae_samples: int,
    batch_size: int,
    seed: int,
) -> dict[str, Any]:
    """Negative ELBO (reconstruction + analytic KL) and the IWAE bound, from shared samples."""
    check_vae_fits(vae, images)
    _check_same_length(images=images, z_mean=z_mean, z_log_var=z_log_var)
    if not 1 <= n_samples <= iwae_samples:
        raise ValueError(f"n_samples is {n_samples}; expected 1 to iwae_samples ({iwae_samples})")
    scorer = _log_likelihood_model(vae)
    prior = prior_components(vae)
    rng = np.random.default_rng((seed, _IWAE_STREAM))
    n = len(images)
    reconstruction, elbo_monte_carlo, iwae = np.empty(n), np.empty(n), np.empty(n)
    for start in range(0, n, batch_size):
        batch = slice(start, start + batch_size)
        log_likelihood, log_weights = _importance_log_weights(
            vae,
            scorer,
            np.asarray(images[batch]),
            z_mean[batch],
            z_log_var[batch],
            n_draws=iwae_samples,
            rng=rng,
            prior=prior,
        )
        # The ELBO reuses the first n_samples draws; the IWAE bound uses all K of them.
        reconstruction[batch] = -np.mean(log_likelihood[:n_samples], axis=0)
        elbo_monte_carlo[batch] = np.mean(log_weights[:n_samples], axis=0)
        iwae[batch] = metrics.iwae_bound(log_weights)
    if prior is None and not vae.has_ladder:
        kl = np.asarray(kl_divergence(z_mean, z_log_var), dtype=np.float64)
    else:  # no closed form: the same draws' log q(z|x) − log p(z) (and z₂'s, with a ladder)
        kl = -elbo_monte_carlo - reconstruction
    negative_elbo, elbo_error = _mean_and_error(reconstruction + kl)
    nll, nll_error = _mean_and_error(-iwae)
    floor = metrics.binary_entropy_floor(images)
    return {
        "elbo": {
            "negative_elbo": negative_elbo,
            "reconstruction": float(np.mean(reconstruction)),
            "kl": float(np.mean(kl)),
            "standard_error": elbo_error,
            "negative_elbo_monte_carlo": float(-np.mean(elbo_monte_carlo)),
            "n_samples": n_samples,
            "units": "nats/image",
        },
        "log_likelihood": {
            "negative_log_likelihood_iwae": nll,
            "standard_error": nll_error,
            "iwae_samples": iwae_samples,
            "gap_to_negative_elbo": negative_elbo - nll,
            "data_entropy_floor": floor,
            "above_floor": nll - floor,
            "likelihood": LIKELIHOOD_NOTE,
            "units": "nats/image",
        },
    }


def binarize(images: np.ndarray, seed: int) -> np.ndarray:
    """Each pixel drawn once as a Bernoulli of its intensity (0 or 1, float32), seeded."""
    draws = np.random.default_rng(seed).random(np.shape(images), dtype=np.float32)
    return (draws < np.asarray(images)).astype(np.float32)


def binarized_likelihood(
    vae: VAE, images: np.ndarray, evaluate: EvaluateParameters, seed: int
) -> dict[str, Any]:
    """−log p(x) of test images binarized once, by importance sampling from the encoder."""
    check_vae_fits(vae, images)
    binarized = binarize(images[: evaluate.binarized_images], evaluate.binarize_seed)
    z_mean, z_log_var = encode_images(vae, binarized, evaluate.batch_size)
    scorer = _log_likelihood_model(vae)
    prior = prior_components(vae)
    rng = np.random.default_rng((seed, _BINARIZED_STREAM))
    n = len(binarized)
    nll, negative_elbo = np.empty(n), np.empty(n)
    draws = evaluate.binarized_samples
    for start in range(0, n, evaluate.batch_size):
        batch = slice(start, start + evaluate.batch_size)
        parts = []
        for first in range(0, draws, _DRAWS_PER_LOG_LINE):
            _, log_weights = _importance_log_weights(
                vae,
                scorer,
                binarized[batch],
                z_mean[batch],
                z_log_var[batch],
                n_draws=min(_DRAWS_PER_LOG_LINE, draws - first),
                rng=rng,
                prior=prior,
            )
            parts.append(log_weights)
            logger.info(
                "Binarized likelihood: images %d to %d of %d, %d of %d draws",
                start + 1,
                min(start + evaluate.batch_size, n),
                n,
                min(first + _DRAWS_PER_LOG_LINE, draws),
                draws,
            )
        log_weights = np.concatenate(parts)
        nll[batch] = -metrics.iwae_bound(log_weights)
        negative_elbo[batch] = -np.mean(log_weights, axis=0)
    mean, error = _mean_and_error(nll)
    return {
        "negative_log_likelihood": mean,
        "standard_error": error,
        "negative_elbo": float(np.mean(negative_elbo)),
        "n_images": n,
        "importance_samples": evaluate.binarized_samples,
        "binarize_seed": evaluate.binarize_seed,
        "protocol": BINARIZED_PROTOCOL,
        "units": "nats/image",
    }


def _quality(images: np.ndarray, reconstructions: np.ndarray, ssim: np.ndarray) -> dict:
    """MSE, PSNR and SSIM of image pairs, averaged (None for an empty set)."""
    if len(images) == 0:
        return {"mse": None, "psnr_db": None, "ssim": None, "n_images": 0}
    return {
        "mse": float(np.mean(metrics.mse_per_image(images, reconstructions))),
        "psnr_db": metrics.mean_psnr(images, reconstructions),
        "ssim": float(np.mean(ssim)),
        "n_images": len(images),
    }


def reconstruction_metrics(
    vae: VAE, images: np.ndarray, labels: np.ndarray, z_mean: np.ndarray, batch_size: int
) -> dict[str, Any]:
    """MSE, PSNR and SSIM of the posterior-mean reconstructions, overall and per class."""
    check_vae_fits(vae, images)
    _check_same_length(images=images, labels=labels, z_mean=z_mean)
    images = np.asarray(images)
    labels = np.asarray(labels)
    reconstructions = decode_latents(vae, z_mean, batch_size)
    ssim = metrics.ssim_per_image(images, reconstructions, batch_size)
    per_class = {
        name: _quality(images[labels == c], reconstructions[labels == c], ssim[labels == c])
        for c, name in enumerate(CLASS_NAMES)
    }
    return {
        **_quality(images, reconstructions, ssim),
        "per_class": per_class,
    }


def latent_metrics(z_mean: np.ndarray, z_log_var: np.ndarray) -> dict[str, Any]:
    """Active units and the KL per latent dimension, from the test posteriors."""
    kl = metrics.kl_per_dimension(z_mean, z_log_var)
    return {
        "latent_dim": int(z_mean.shape[1]),
        "active_units": metrics.active_units(z_mean, ACTIVE_UNIT_THRESHOLD),
        "active_unit_threshold": ACTIVE_UNIT_THRESHOLD,
        "kl_per_dimension": {
            "total": float(np.sum(kl)),
            "mean": float(np.mean(kl)),
            "max": float(np.max(kl)),
            "dims_above_threshold": int(np.sum(kl > KL_DIMENSION_THRESHOLD)),
            "threshold": KL_DIMENSION_THRESHOLD,
            # A diagnostic of each dimension's use whatever the model's prior: a VampPrior's KL
            # has no per-dimension split, and the ELBO's terms hold its own.
            "against": "N(0, 1)",
            "values": [float(v) for v in kl],
            "units": "nats/image",
        },
    }


def feature_learning_metrics(
    vae: VAE,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_z_mean: np.ndarray,
    test_labels: np.ndarray,
    *,
    max_train_features: int | None,
    knn_k: int,
    batch_size: int,
    seed: int,
) -> dict[str, Any]:
    """Linear-probe and k-NN test accuracy on posterior means (train: a seeded subset if set)."""
    _check_same_length(train_images=train_images, train_labels=train_labels)
    _check_same_length(test_z_mean=test_z_mean, test_labels=test_labels)
    index = np.arange(len(train_images))
    if max_train_features is not None and max_train_features < len(train_images):
        rng = np.random.default_rng((seed, _SUBSET_STREAM))
        index = np.sort(rng.choice(len(train_images), max_train_features, replace=False))
    if knn_k > len(index):
        raise ValueError(f"knn_k is {knn_k}; expected at most the {len(index)} training images")
    # Fancy indexing reads only the chosen rows of a memory-mapped array.
    images = train_images if len(index) == len(train_images) else train_images[index]
    train_features, _ = encode_images(vae, images, batch_size)
    labels = np.asarray(train_labels)[index]
    test_labels = np.asarray(test_labels)
    linear_probe = metrics.linear_probe_accuracy(
        train_features, labels, test_z_mean, test_labels, seed=seed
    )
    return {
        "linear_probe_accuracy": linear_probe,
        "knn_accuracy": metrics.knn_accuracy(
            train_features, labels, test_z_mean, test_labels, k=knn_k
        ),
        "knn_k": knn_k,
        "n_train": len(index),
        "n_test": len(test_labels),
        "features": "posterior means",
    }


def sample_prior(
    vae: VAE, test_images: np.ndarray, n_generated: int, batch_size: int, seed: int
) -> np.ndarray:
    """Decode `n_generated` seeded draws from the prior to pixel probabilities (float32)."""
    # The test images only vouch that the samples are comparable to them.
    check_vae_fits(vae, test_images)
    rng = np.random.default_rng((seed, _PRIOR_STREAM))
    return decode_latents(vae, sample_prior_codes(vae, n_generated, rng), batch_size)


def sample_latent_mixture(
    vae: VAE, latent_density: dict[str, Any], n_generated: int, batch_size: int, seed: int
) -> np.ndarray:
    """Decode `n_generated` seeded draws from the latent mixture of all training codes."""
    density = density_for(vae, latent_density)
    rng = np.random.default_rng((seed, _MIXTURE_STREAM))
    return decode_latents(vae, density.sample(n_generated, rng), batch_size)


def sample_class_conditional(
    vae: VAE,
    latent_density: dict[str, Any],
    n_per_class: int,
    batch_size: int,
    seed: int,
    *,
    temperature: float = 1.0,
) -> np.ndarray:
    """Decode `n_per_class` seeded draws from each class's mixture: 10 × n × 28 × 28 × 1."""
    density = density_for(vae, latent_density)
    if density.class_names != list(CLASS_NAMES):
        raise ValueError(
            f"latent_density has mixtures for {density.class_names}; expected one per "
            f"Fashion-MNIST class, {list(CLASS_NAMES)}"
        )
    rng = np.random.default_rng((seed, _CLASS_STREAM))
    z = np.concatenate(
        [density.sample(n_per_class, rng, name, temperature) for name in CLASS_NAMES]
    )
    images = decode_latents(vae, z, batch_size)
    return images.reshape(len(CLASS_NAMES), n_per_class, *images.shape[1:])


def _sampler_metrics(
    test_features: np.ndarray, features: np.ndarray, logits: np.ndarray
) -> dict[str, Any]:
    """Fréchet distance of one sampler's images to the test images, and their class shares."""
    distribution = metrics.class_distribution(special.softmax(logits, axis=1))
    shares = distribution.pop("shares")
    return {
        "fid_fashion_classifier": metrics.frechet_distance(test_features, features),
        "n_generated": len(features),
        "class_distribution": {
            **distribution,
            "largest_class": CLASS_NAMES[int(np.argmax(shares))],
            "smallest_class": CLASS_NAMES[int(np.argmin(shares))],
            "shares": dict(zip(CLASS_NAMES, shares, strict=True)),
        },
    }


def generation_metrics(
    classifier: keras.Model,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    reference_images: np.ndarray,
    *,
    prior_samples: np.ndarray,
    mixture_samples: np.ndarray,
    class_conditional_samples: np.ndarray,
    latent_density: dict[str, Any],
    batch_size: int,
    class_temperature: float = 1.0,
) -> dict[str, Any]:
    """Per sampler (prior, gmm) the Fréchet distance and class shares; class-conditional hits."""
    n_classes, n_per_class = class_conditional_samples.shape[:2]
    class_conditional = np.reshape(
        class_conditional_samples, (-1, *class_conditional_samples.shape[2:])
    )
    for images in (test_images, reference_images, prior_samples, mixture_samples):
        check_images_fit(classifier, images, "fashion_classifier")
    check_images_fit(classifier, class_conditional, "fashion_classifier")
    if n_classes != len(CLASS_NAMES):
        raise ValueError(
            f"class_conditional_samples has {n_classes} classes; expected {len(CLASS_NAMES)}"
        )
    _check_same_length(test_images=test_images, test_labels=test_labels)
    density = LatentDensity.from_json(latent_density)
    extractor = feature_extractor(classifier)
    test_features, test_logits = extractor.predict(test_images, batch_size, verbose=0)
    reference_features, _ = extractor.predict(reference_images, batch_size, verbose=0)
    samplers = {
        name: _sampler_metrics(test_features, *extractor.predict(images, batch_size, verbose=0))
        for name, images in (("prior", prior_samples), ("gmm", mixture_samples))
    }
    samplers["gmm"].update(
        n_components=density.overall.n_components,
        class_components=max((m.n_components for m in density.per_class.values()), default=None),
        covariance_type=density.overall.covariance_type,
        modelled_dimensions=len(density.dimensions),
        activity_threshold=density.activity_threshold,
    )
    _, class_logits = extractor.predict(class_conditional, batch_size, verbose=0)
    requested = np.repeat(np.arange(n_classes), n_per_class)
    hits = (np.argmax(class_logits, axis=1) == requested).reshape(n_classes, n_per_class)
    test_labels = np.asarray(test_labels)
    test_hits = np.argmax(test_logits, axis=1) == test_labels
    real_per_class = {
        name: float(np.mean(test_hits[test_labels == c])) if np.any(test_labels == c) else None
        for c, name in enumerate(CLASS_NAMES)
    }
    return {
        "description": FID_DESCRIPTION,
        "fid_real_reference": metrics.frechet_distance(test_features, reference_features),
        "reference_description": FID_REFERENCE_DESCRIPTION,
        "n_reference": len(reference_images),
        "classifier_test_accuracy": float(np.mean(test_hits)),
        **samplers,
        "class_conditional": {
            "accuracy": float(np.mean(hits)),
            "per_class": dict(zip(CLASS_NAMES, np.mean(hits, axis=1).tolist(), strict=True)),
            "n_per_class": int(n_per_class),
            "temperature": class_temperature,
            "real_per_class": real_per_class,
            "description": CLASS_CONDITIONAL_DESCRIPTION,
        },
    }


def assemble_metrics(
    test_z_mean: np.ndarray,
    *,
    likelihood: dict[str, Any],
    binarized_likelihood: dict[str, Any],
    reconstruction: dict[str, Any],
    latent: dict[str, Any],
    feature_learning: dict[str, Any],
    generation: dict[str, Any],
    evaluate: EvaluateParameters,
    seed: int,
) -> dict[str, Any]:
    """Nest the sections into the metrics JSON, after a `run` section of sizes and settings."""
    return {
        "run": {
            "model_latent_dim": int(test_z_mean.shape[1]),
            "n_test_images": len(test_z_mean),
            "seed": seed,
            "parameters": evaluate.model_dump(mode="json"),
        },
        "elbo": likelihood["elbo"],
        "log_likelihood": likelihood["log_likelihood"],
        "binarized_log_likelihood": binarized_likelihood,
        "reconstruction": reconstruction,
        "latent": latent,
        "feature_learning": feature_learning,
        "generation": generation,
    }
