"""What each control of the explorer does, as plain functions of its inputs.

`Explorer` holds the stored model, its latent density, the principal directions of its
training codes and the latent map; each method answers one control of the page with arrays
and text, which `fashion_vae.explorer.app` shows. Nothing here imports Gradio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.data.user_images import to_model_input
from fashion_vae.datasets.image_folder_dataset import open_image
from fashion_vae.evaluation.nearest_class import fit_nearest_class, nearest_classes
from fashion_vae.model import VAE, check_training_codes, encode_images
from fashion_vae.model.latent_density import LatentDensity, density_for
from fashion_vae.parameters import ExploreParameters

from .latent_map import MapView, draw_map, nearest_point
from .latent_space import (
    Directions,
    Interpolation,
    code_from_sliders,
    decode,
    draw,
    fit_directions,
    interpolate,
    plane_sliders,
    sample_codes,
    slider_count,
    sliders_from_code,
    to_plane,
    zoomed,
)


@dataclass(frozen=True)
class Setting:
    """Slider values and residual (together: a code), and that code's decoded image."""

    values: np.ndarray
    residual: np.ndarray
    image: np.ndarray


@dataclass(frozen=True)
class Picked:
    """A code chosen on the map or by an upload: the input, its reconstruction, a caption."""

    setting: Setting
    original: np.ndarray | None
    reconstruction: np.ndarray | None
    caption: str


@dataclass(frozen=True, eq=False)
class Explorer:
    """A stored VAE's latent space, ready to answer the page's controls."""

    vae: VAE
    density: LatentDensity
    directions: Directions
    knn: KNeighborsClassifier
    test_images: np.ndarray
    test_labels: np.ndarray
    test_codes: np.ndarray
    test_plane: np.ndarray
    map_picture: np.ndarray
    map_view: MapView
    params: ExploreParameters

    def show(self, codes: np.ndarray) -> np.ndarray:
        """Codes decoded and zoomed into one row of 8-bit grey pixels."""
        return zoomed(decode(self.vae, codes), self.params.zoom)

    def on_sliders(self, values: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """The decoded image of the sliders' code."""
        return draw(self.vae, self.directions, values, residual, self.params.zoom)

    def setting(self, code: np.ndarray) -> Setting:
        """Sliders and residual that give `code`, and its decoded image."""
        values, residual = sliders_from_code(self.directions, code, self.params.slider_range)
        return Setting(values, residual, self.show(code))

    def reset(self) -> Setting:
        """Every slider at zero, no residual: the mean of the training codes."""
        return self.setting(code_from_sliders(self.directions, np.zeros(self.directions.count)))

    def on_map_click(self, px: float, py: float) -> Picked:
        """A click at pixel (px, py) of the map: the test image drawn there, or that point."""
        index = nearest_point(self.map_view, self.test_plane, px, py, self.params.click_radius)
        if index is None:
            x, y = self.map_view.to_plane(px, py)
            code = code_from_sliders(self.directions, plane_sliders(self.directions, x, y))
            return Picked(self.setting(code), None, None, f"The point ({x:.2f}, {y:.2f}) decoded")
        setting = self.setting(self.test_codes[index])
        caption = f"Test image {index}: {CLASS_NAMES[int(self.test_labels[index])]}"
        return Picked(setting, self.show_input(self.test_images[index]), setting.image, caption)

    def show_input(self, image: np.ndarray) -> np.ndarray:
        """A 28 × 28 (× 1) input image zoomed as the decoded ones are."""
        return zoomed(np.asarray(image)[None, ..., 0], self.params.zoom)

    def encode_upload(self, path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, bool]:
        """An uploaded file as the encode pipeline prepares it, its code, and whether inverted."""
        pixels, inverted = to_model_input(open_image(path), self.params.invert)
        z_mean, _ = encode_images(self.vae, pixels[None], batch_size=1)
        return pixels, z_mean[0], inverted

    def on_upload(self, path: str | os.PathLike) -> Picked:
        """An uploaded PNG or JPEG: prepared, encoded, reconstructed, its nearest class."""
        pixels, code, inverted = self.encode_upload(path)
        (label,), (votes,) = nearest_classes(self.knn, code[None])
        setting = self.setting(code)
        caption = (
            f"{os.path.basename(path)}: nearest class {CLASS_NAMES[int(label)]} "
            f"({votes:.0%} of {self.params.knn_k} neighbours){', inverted' if inverted else ''}"
        )
        return Picked(setting, self.show_input(pixels), setting.image, caption)

    def on_interpolate(self, start: np.ndarray, end: np.ndarray, kind: Interpolation) -> np.ndarray:
        """The decoded steps from one code to another, in a row."""
        return self.show(interpolate(start, end, self.params.interpolation_steps, kind))

    def on_sample(self, source: str, seed: int) -> np.ndarray:
        """Seeded samples of the prior, the mixture or a class's mixture, decoded in a row."""
        return self.show(sample_codes(self.vae, self.density, self.params.n_samples, seed, source))


def build_explorer(
    *,
    vae: VAE,
    latent_density: dict,
    train_posterior_mean: np.ndarray,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    params: ExploreParameters,
) -> Explorer:
    """Check the stored artifacts belong to `vae`, fit the directions, encode and draw the map."""
    density = density_for(vae, latent_density)
    check_training_codes(vae, train_images, train_posterior_mean, params.batch_size)
    count = slider_count(
        len(density.dimensions), vae.latent_dim, params.min_sliders, params.max_sliders
    )
    directions = fit_directions(train_posterior_mean, count)
    shown = np.asarray(test_images[: params.map_points])
    labels = np.asarray(test_labels[: params.map_points]).reshape(-1)
    codes, _ = encode_images(vae, shown, params.batch_size)
    plane = to_plane(directions, codes)
    picture, view = draw_map(plane, labels, CLASS_NAMES)
    return Explorer(
        vae=vae,
        density=density,
        directions=directions,
        knn=fit_nearest_class(train_posterior_mean, train_labels, params.knn_k),
        test_images=shown,
        test_labels=labels,
        test_codes=codes,
        test_plane=plane,
        map_picture=picture,
        map_view=view,
        params=params,
    )
