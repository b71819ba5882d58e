"""The explorer's arithmetic: sliders ↔ codes ↔ images, the map's plane, interpolation, sampling.

A code is a slider setting plus a residual: `code = residual + mean + Σ value_i · σ_i · u_i`
over the principal directions u_i (standard deviations σ_i) of the training posterior means.
Setting the sliders to a code keeps what they cannot express in the residual, so the sliders
edit that code exactly instead of its projection; resetting empties the residual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np
from sklearn.decomposition import PCA

from fashion_vae.model import VAE, sample_prior_codes
from fashion_vae.model.latent_density import LatentDensity

PRIOR, MIXTURE = "prior", "mixture"
Interpolation = Literal["linear", "spherical"]
# Below this angle between two codes spherical interpolation is linear (sin θ would vanish).
_PARALLEL = 1e-6
_GAP_GREY = 128
# A slider's step, in standard deviations.
SLIDER_STEP = 0.05


@dataclass(frozen=True, eq=False)
class Directions:
    """The principal directions of the training codes and their standard deviations."""

    pca: PCA
    scales: np.ndarray

    @property
    def count(self) -> int:
        """How many directions, one slider each."""
        return len(self.scales)


def slider_count(active_units: int, latent_dim: int, minimum: int, maximum: int) -> int:
    """As many sliders as active units, within [minimum, maximum] and at most latent_dim."""
    return min(max(active_units, minimum), maximum, latent_dim)


def fit_directions(train_codes: np.ndarray, count: int) -> Directions:
    """scikit-learn's PCA of the training posterior means, keeping `count` directions."""
    codes = np.asarray(train_codes, dtype=np.float64)
    pca = PCA(n_components=min(count, *codes.shape), svd_solver="covariance_eigh").fit(codes)
    # A direction the codes do not vary along (a collapsed model) still gets a usable slider.
    scales = np.maximum(np.sqrt(pca.explained_variance_), np.finfo(np.float32).eps)
    return Directions(pca=pca, scales=scales)


def code_from_sliders(
    directions: Directions, values: np.ndarray, residual: np.ndarray | None = None
) -> np.ndarray:
    """The code (float32) of slider values in standard deviations, plus the residual."""
    values = np.asarray(values, dtype=np.float64).reshape(1, -1)
    code = directions.pca.inverse_transform(values * directions.scales)[0]
    return (code if residual is None else code + residual).astype(np.float32)


def sliders_from_code(
    directions: Directions, code: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Slider values (clipped to ± limit) that, with the returned residual, give `code`."""
    code = np.asarray(code, dtype=np.float64).reshape(1, -1)
    exact = directions.pca.transform(code)[0] / directions.scales
    # On the sliders' steps, as a slider can show them; the residual keeps the difference.
    steps = np.round(np.clip(exact, -limit, limit) / SLIDER_STEP)
    values = np.round(steps * SLIDER_STEP, 6)  # 2.3, not 2.3000000000000003
    residual = code[0] - directions.pca.inverse_transform((values * directions.scales)[None])[0]
    return values, residual


def to_plane(directions: Directions, codes: np.ndarray) -> np.ndarray:
    """Codes (N × d) on the map's plane: their first two slider values (N × 2)."""
    return directions.pca.transform(np.asarray(codes, np.float64))[:, :2] / directions.scales[:2]


def plane_sliders(directions: Directions, x: float, y: float) -> np.ndarray:
    """The slider values of the point (x, y) of the map's plane: the others at the mean."""
    values = np.zeros(directions.count)
    values[:2] = x, y
    return values


def decode(vae: VAE, codes: np.ndarray) -> np.ndarray:
    """Pixel probabilities (N × 28 × 28, float32) of codes, by one direct call of `VAE.decode`."""
    # Not `predict`: its set-up costs more than the decoder itself for a handful of codes.
    z = np.asarray(codes, dtype=np.float32).reshape(-1, vae.latent_dim)
    return keras.ops.convert_to_numpy(vae.decode(z))[..., 0]


def draw(
    vae: VAE,
    directions: Directions,
    values: np.ndarray,
    residual: np.ndarray,
    zoom: int,
) -> np.ndarray:
    """What a slider's move shows: the sliders' code decoded, zoomed to 8-bit grey."""
    return zoomed(decode(vae, code_from_sliders(directions, values, residual)), zoom)


def interpolate(start: np.ndarray, end: np.ndarray, steps: int, kind: Interpolation) -> np.ndarray:
    """`steps` codes from `start` to `end` (both included), along a line or a great circle."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    a, b = np.asarray(start, np.float64), np.asarray(end, np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    angle = np.arccos(np.clip(a @ b / norms, -1.0, 1.0)) if norms > 0 else 0.0
    if kind == "linear" or np.sin(angle) < _PARALLEL:
        return ((1 - t) * a + t * b).astype(np.float32)
    weights = np.sin(np.hstack([(1 - t) * angle, t * angle])) / np.sin(angle)
    return (weights[:, :1] * a + weights[:, 1:] * b).astype(np.float32)


def sample_codes(vae: VAE, density: LatentDensity, n: int, seed: int, source: str) -> np.ndarray:
    """n seeded codes (float32) from the prior ("prior"), the mixture ("mixture") or a class's."""
    rng = np.random.default_rng(seed)
    if source == PRIOR:
        return sample_prior_codes(vae, n, rng)
    return density.sample(n, rng, class_name=None if source == MIXTURE else source)


def zoomed(images: np.ndarray, zoom: int) -> np.ndarray:
    """Images in [0, 1] (N × h × w) as one row of 8-bit grey, each pixel a zoom × zoom square."""
    pixels = np.rint(np.clip(images, 0, 1) * 255).astype(np.uint8)
    big = pixels.repeat(zoom, axis=1).repeat(zoom, axis=2)
    # A grey gap, so that neighbouring images' black backgrounds do not run together.
    gap = np.full((big.shape[1], max(zoom // 2, 1)), _GAP_GREY, np.uint8)
    row = [part for image in big for part in (gap, image)][1:]
    return np.concatenate(row, axis=1)
