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

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.evaluation import metrics
from fashion_vae.evaluation.descriptions import (
    AUTOREGRESSIVE_NOTE,
    BINARIZED_PROTOCOL,
    CLASS_CONDITIONAL_DESCRIPTION,
    FID_DESCRIPTION,
    FID_REFERENCE_DESCRIPTION,
    LIKELIHOOD_NOTE,
)
from fashion_vae.evaluation.likelihood import (
    binarized_test_sample,
    importance_sampled_bounds,
    log_progress,
    log_weight_batches,
    mean_and_error,
)
from fashion_vae.model import (
    VAE,
    check_images_fit,
    check_vae_fits,
    decode_latents,
    encode_images,
    feature_extractor,
    kl_divergence,
    sample_prior_codes,
)
from fashion_vae.model.latent_density import LatentDensity, density_for
from fashion_vae.parameters import EvaluateParameters

# Burda et al. (2016): a unit is active when its posterior mean varies across data by > 0.01.
ACTIVE_UNIT_THRESHOLD = 0.01
# A latent dimension "carries information" when its mean KL exceeds this many nats.
KL_DIMENSION_THRESHOLD = 0.01
# Separate random streams under the one seed, so that no two draws share numbers.
logger = logging.getLogger(__name__)
_IWAE_STREAM, _PRIOR_STREAM, _SUBSET_STREAM, _MIXTURE_STREAM, _CLASS_STREAM = 1, 2, 3, 4, 5
_BINARIZED_STREAM = 6


def _check_same_length(**arrays: np.ndarray) -> None:
    """Raise ValueError unless every array has the same first dimension."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"expected one row per image in each of {lengths}")


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
    rng = np.random.default_rng((seed, _IWAE_STREAM))
    n = len(images)
    reconstruction, elbo_monte_carlo, iwae = np.empty(n), np.empty(n), np.empty(n)
    # All K draws of a batch at once (K ≤ 5,000): the ELBO reuses the first n_samples of them.
    batches = log_weight_batches(
        vae,
        images,
        (z_mean, z_log_var),
        draws=iwae_samples,
        batch_size=batch_size,
        rng=rng,
        chunk=iwae_samples,
    )
    for batch, chunks in batches:
        ((log_likelihood, log_weights),) = chunks
        reconstruction[batch] = -np.mean(log_likelihood[:n_samples], axis=0)
        elbo_monte_carlo[batch] = np.mean(log_weights[:n_samples], axis=0)
        iwae[batch] = metrics.iwae_bound(log_weights)
    if not vae.pseudo_inputs and not vae.has_ladder:  # the N(0, I) prior, one latent layer
        kl = np.asarray(kl_divergence(z_mean, z_log_var), dtype=np.float64)
    else:  # no closed form: the same draws' log q(z|x) − log p(z) (and z₂'s, with a ladder)
        kl = -elbo_monte_carlo - reconstruction
    negative_elbo, elbo_error = mean_and_error(reconstruction + kl)
    nll, nll_error = mean_and_error(-iwae)
    floor = metrics.binary_entropy_floor(images)
    conditioning = {} if vae.pixel_head is None else {"conditioning": AUTOREGRESSIVE_NOTE}
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
            **conditioning,
            "units": "nats/image",
        },
    }


def binarized_likelihood(
    vae: VAE, images: np.ndarray, evaluate: EvaluateParameters, seed: int
) -> dict[str, Any]:
    """−log p(x) of test images binarized once, by importance sampling from the encoder."""
    check_vae_fits(vae, images)
    n = min(evaluate.binarized_images, len(images))
    _, binarized = binarized_test_sample(np.asarray(images), n, evaluate.binarize_seed)
    posterior = encode_images(vae, binarized, evaluate.batch_size)
    iwae, elbo = importance_sampled_bounds(
        vae,
        binarized,
        posterior,
        draws=evaluate.binarized_samples,
        batch_size=evaluate.batch_size,
        rng=np.random.default_rng((seed, _BINARIZED_STREAM)),
        progress=log_progress("Binarized likelihood", n),
    )
    mean, error = mean_and_error(-iwae)
    return {
        "negative_log_likelihood": mean,
        "standard_error": error,
        "negative_elbo": float(-np.mean(elbo)),
        "n_images": n,
        "n_test_images": len(images),
        "sample": "all test images" if n == len(images) else "random sample (binarize_seed)",
        "importance_samples": evaluate.binarized_samples,
        "binarize_seed": evaluate.binarize_seed,
        "protocol": BINARIZED_PROTOCOL,
        "units": "nats/image",
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
        name: metrics.image_quality(
            images[labels == c], reconstructions[labels == c], ssim[labels == c]
        )
        for c, name in enumerate(CLASS_NAMES)
    }
    return {
        **metrics.image_quality(images, reconstructions, ssim),
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
        name: metrics.sampler_metrics(
            test_features, *extractor.predict(images, batch_size, verbose=0)
        )
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
