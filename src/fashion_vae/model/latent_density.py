"""A latent density fitted after training: Gaussian mixtures of the training posterior means.

A VAE's prior N(0, I) is a poor stand-in for where its encoder actually puts the data (the
aggregate posterior): most latent dimensions are inactive and the active ones are far from a
unit Gaussian, so prior samples are blurry. Fitting scikit-learn's `GaussianMixture` to the
posterior means of the training images, on the active dimensions only, and drawing the other
dimensions from N(0, 1), gives sharper samples; one mixture per class gives class-conditional
samples.

A fitted density is stored as plain numbers (JSON: weights, means, covariances, the modelled
dimensions), never pickled, so that loading one runs no code; sampling is rebuilt from those
numbers with NumPy, seeded by the caller's generator.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import keras
import numpy as np
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from fashion_vae.errors import InvalidDataError, ModelMismatchError
from fashion_vae.parameters import CovarianceType
from fashion_vae.runtime import hardware

COVARIANCE_TYPES: tuple[str, ...] = get_args(CovarianceType)
# What the stored JSON says it is, so that another JSON file is not mistaken for a density.
FORMAT = "fashion_vae.latent_density/1"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class LatentMixture:
    """A Gaussian mixture over d dimensions: weights (K), means (K × d), covariances.

    `covariances` has scikit-learn's shape for the covariance type: K × d × d ("full"),
    d × d ("tied"), K × d ("diag") or K ("spherical").
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: CovarianceType
    _cholesky: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights, dtype=np.float64)
        means = np.asarray(self.means, dtype=np.float64)
        covariances = np.asarray(self.covariances, dtype=np.float64)
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type is {self.covariance_type!r}; expected one of "
                f"{', '.join(COVARIANCE_TYPES)}"
            )
        if weights.ndim != 1 or len(weights) == 0 or means.ndim != 2 or len(means) != len(weights):
            raise ValueError(
                f"a mixture needs K weights and K × d means; got weights of shape "
                f"{weights.shape} and means of shape {means.shape}"
            )
        if not (np.all(np.isfinite(weights)) and np.all(weights >= 0)):
            raise ValueError("mixture weights must be finite and non-negative")
        if not np.isclose(weights.sum(), 1.0, atol=1e-6):
            raise ValueError(f"mixture weights sum to {weights.sum()}; expected 1")
        k, d = means.shape
        expected = {
            "full": (k, d, d),
            "tied": (d, d),
            "diag": (k, d),
            "spherical": (k,),
        }[self.covariance_type]
        if covariances.shape != expected:
            raise ValueError(
                f"{self.covariance_type!r} covariances of a {k}-component mixture in {d} "
                f"dimensions have shape {expected}; got {covariances.shape}"
            )
        full = _full_covariances(covariances, self.covariance_type, k, d)
        try:
            cholesky = np.linalg.cholesky(full)
        except np.linalg.LinAlgError as error:
            raise ValueError("mixture covariances must be positive definite") from error
        if not np.all(np.isfinite(means)) or not np.all(np.isfinite(cholesky)):
            raise ValueError("mixture means and covariances must be finite")
        object.__setattr__(self, "weights", weights / weights.sum())
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "covariances", covariances)
        object.__setattr__(self, "_cholesky", cholesky)

    @property
    def n_components(self) -> int:
        """K, the number of components."""
        return len(self.weights)

    @property
    def n_dimensions(self) -> int:
        """d, the dimensions the mixture is over."""
        return int(self.means.shape[1])

    def sample(self, n: int, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """Draw n points (n × d, float64): a component by weight, then its Gaussian, whose
        spread `temperature` scales (below 1: closer to the component's mean)."""
        components = rng.choice(self.n_components, size=n, p=self.weights)
        noise = temperature * rng.standard_normal((n, self.n_dimensions))
        return self.means[components] + np.einsum("nij,nj->ni", self._cholesky[components], noise)

    def to_json(self) -> dict[str, Any]:
        """The mixture as JSON-ready lists (floats round-trip exactly)."""
        return {
            "covariance_type": self.covariance_type,
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "covariances": self.covariances.tolist(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatentMixture:
        """Rebuild a mixture from `to_json`'s output, checking every shape."""
        d = len(data["means"][0]) if data["means"] else 0
        return cls(
            weights=np.asarray(data["weights"], dtype=np.float64),
            means=np.asarray(data["means"], dtype=np.float64).reshape(-1, d),
            covariances=np.asarray(data["covariances"], dtype=np.float64),
            covariance_type=data["covariance_type"],
        )


def _full_covariances(covariances: np.ndarray, kind: str, k: int, d: int) -> np.ndarray:
    """K × d × d covariances from scikit-learn's storage for the covariance type."""
    if kind == "full":
        return covariances
    if kind == "tied":
        return np.broadcast_to(covariances, (k, d, d))
    if kind == "diag":
        return covariances[:, :, None] * np.eye(d)
    return covariances[:, None, None] * np.eye(d)


@dataclass(frozen=True, eq=False)
class LatentDensity:
    """A mixture over all training codes and one per class, on the same modelled dimensions.

    Dimensions not in `dimensions` are drawn from N(0, 1), as the prior does. `model_digest`
    identifies the VAE whose codes were fitted (`vae_digest`), so that a density is never
    used with another model by mistake.
    """

    latent_dim: int
    dimensions: np.ndarray
    overall: LatentMixture
    per_class: dict[str, LatentMixture]
    model_digest: str
    activity_threshold: float

    def __post_init__(self) -> None:
        dimensions = np.asarray(self.dimensions, dtype=np.int64).reshape(-1)
        if len(dimensions) == 0 or len(np.unique(dimensions)) != len(dimensions):
            raise ValueError("a latent density models at least one dimension, each once")
        if dimensions.min() < 0 or dimensions.max() >= self.latent_dim:
            raise ValueError(
                f"modelled dimensions {dimensions.tolist()} are not all in 0..{self.latent_dim - 1}"
            )
        for name, mixture in {"overall": self.overall, **self.per_class}.items():
            if mixture.n_dimensions != len(dimensions):
                raise ValueError(
                    f"the {name!r} mixture is over {mixture.n_dimensions} dimensions; expected "
                    f"the {len(dimensions)} modelled ones"
                )
        object.__setattr__(self, "dimensions", dimensions)

    @property
    def class_names(self) -> list[str]:
        """The classes with a mixture of their own, in stored order."""
        return list(self.per_class)

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        class_name: str | None = None,
        temperature: float = 1.0,
    ) -> np.ndarray:
        """Draw n latent codes (n × latent_dim, float32), from one class's mixture if named, the
        modelled dimensions at `temperature` (see `LatentMixture.sample`)."""
        if class_name is None:
            mixture = self.overall
        elif class_name in self.per_class:
            mixture = self.per_class[class_name]
        else:
            raise ValueError(
                f"no mixture for class {class_name!r}; expected one of "
                f"{', '.join(self.class_names)}"
            )
        z = rng.standard_normal((n, self.latent_dim))
        z[:, self.dimensions] = mixture.sample(n, rng, temperature)
        return z.astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        """The density as a JSON-ready dict of plain numbers and lists."""
        return {
            "format": FORMAT,
            "latent_dim": self.latent_dim,
            "dimensions": self.dimensions.tolist(),
            "activity_threshold": self.activity_threshold,
            "model_digest": self.model_digest,
            "overall": self.overall.to_json(),
            "per_class": {name: mixture.to_json() for name, mixture in self.per_class.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "latent_density") -> LatentDensity:
        """Rebuild a density from `to_json`'s output; InvalidDataError naming `source` if not."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InvalidDataError(
                f"{source} is not a latent density (expected format {FORMAT!r}): run `kedro run "
                "--pipelines=latent_density` to write it again"
            )
        try:
            return cls(
                latent_dim=int(data["latent_dim"]),
                dimensions=np.asarray(data["dimensions"], dtype=np.int64),
                overall=LatentMixture.from_json(data["overall"]),
                per_class={
                    name: LatentMixture.from_json(mixture)
                    for name, mixture in data["per_class"].items()
                },
                model_digest=str(data["model_digest"]),
                activity_threshold=float(data["activity_threshold"]),
            )
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise InvalidDataError(
                f"{source} is malformed ({type(error).__name__}: {error}): run `kedro run "
                "--pipelines=latent_density` to write it again"
            ) from error


def vae_digest(vae: keras.Model) -> str:
    """SHA-256 of the encoder's and decoder's weights: which trained VAE this is."""
    digest = hashlib.sha256()
    for weight in [*vae.encoder.weights, *vae.decoder.weights]:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{weight.path}:{value.dtype}:{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def density_for(
    vae: keras.Model, data: Mapping[str, Any], source: str = "latent_density"
) -> LatentDensity:
    """The stored density `data`, refused (a ProjectError) unless it was fitted to this VAE."""
    density = LatentDensity.from_json(data, source)
    if density.latent_dim != vae.latent_dim or density.model_digest != vae_digest(vae):
        raise ModelMismatchError(
            f"{source} was fitted to the codes of another vae_model ({density.latent_dim} latent "
            f"dimensions, weights {density.model_digest[:12]}; this one: {vae.latent_dim}, "
            f"{vae_digest(vae)[:12]}): run `kedro run --pipelines=latent_density` for it, with "
            "the same --load-versions"
        )
    return density


def modelled_dimensions(z_mean: np.ndarray, threshold: float) -> np.ndarray:
    """Dimensions whose posterior-mean variance exceeds `threshold`; at least the most varied."""
    variance = np.var(np.asarray(z_mean, dtype=np.float64), axis=0)
    active = np.flatnonzero(variance > threshold)
    # A collapsed model has no active dimension; modelling its most varied one keeps the
    # density defined (and close to the prior) instead of failing the run.
    return active if len(active) else np.array([int(np.argmax(variance))])


def fit_mixture(
    codes: np.ndarray,
    *,
    n_components: int,
    covariance_type: CovarianceType,
    seed: int,
    max_iter: int = 100,
    reg_covar: float = 1e-6,
    threads: int = 1,
) -> LatentMixture:
    """Fit scikit-learn's GaussianMixture (k-means initialised, seeded) to N × d codes, on
    `threads` BLAS threads."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] == 0:
        raise ValueError(f"codes have shape {codes.shape}; expected N × d with d ≥ 1")
    if len(codes) < n_components:
        raise ValueError(
            f"{n_components} mixture components need at least as many codes; got {len(codes)}"
        )
    mixture = GaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        max_iter=max_iter,
        reg_covar=reg_covar,
        random_state=seed,
    )
    with threadpool_limits(limits=threads):
        mixture.fit(codes)
    return LatentMixture(
        weights=mixture.weights_,
        means=mixture.means_,
        covariances=mixture.covariances_,
        covariance_type=covariance_type,
    )


def fit_latent_density(
    z_mean: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    n_components: int,
    class_components: int,
    covariance_type: CovarianceType,
    activity_threshold: float,
    rng: np.random.Generator,
    model_digest: str,
    max_iter: int = 100,
    threads: int | str = hardware.AUTO,
) -> LatentDensity:
    """Fit one mixture to every code and one per class, on the active dimensions.

    Each fit is seeded from `rng` and runs on `threads` BLAS threads (`hardware.
    mixture_threads`); how many, and how long each fit took, go to the log.
    """
    z_mean = np.asarray(z_mean)
    labels = np.asarray(labels).reshape(-1)
    if len(z_mean) != len(labels):
        raise ValueError(f"got {len(z_mean)} codes and {len(labels)} labels; expected one each")
    dimensions = modelled_dimensions(z_mean, activity_threshold)
    codes = np.asarray(z_mean[:, dimensions], dtype=np.float64)
    seeds = rng.integers(2**32 - 1, size=len(class_names) + 1)
    chosen = hardware.mixture_threads(threads, len(dimensions))
    # The fit's time grows with the dimensions: minutes for a model with hundreds active.
    logger.info(
        "Fitting a %d-component %s mixture to %d codes in %d dimensions, then %d per class; %s",
        n_components,
        covariance_type,
        len(codes),
        len(dimensions),
        class_components,
        chosen.describe("BLAS threads"),
    )
    started = time.perf_counter()
    overall = fit_mixture(
        codes,
        n_components=n_components,
        covariance_type=covariance_type,
        seed=int(seeds[0]),
        max_iter=max_iter,
        threads=int(chosen.value),
    )
    fitted = time.perf_counter()
    per_class = {}
    for label, name in enumerate(class_names):
        class_codes = codes[labels == label]
        if len(class_codes) < class_components:
            raise ValueError(
                f"class {name!r} has {len(class_codes)} training images; "
                f"{class_components} mixture components per class need at least as many"
            )
        per_class[name] = fit_mixture(
            class_codes,
            n_components=class_components,
            covariance_type=covariance_type,
            seed=int(seeds[label + 1]),
            max_iter=max_iter,
            threads=int(chosen.value),
        )
    logger.info(
        "Fitted a %d-component %s mixture to %d codes in %d dimensions in %.1f s, and %d "
        "per class in %.1f s",
        n_components,
        covariance_type,
        len(codes),
        len(dimensions),
        fitted - started,
        class_components,
        time.perf_counter() - fitted,
    )
    return LatentDensity(
        latent_dim=int(z_mean.shape[1]),
        dimensions=dimensions,
        overall=overall,
        per_class=per_class,
        model_digest=model_digest,
        activity_threshold=float(activity_threshold),
    )
