"""The report nodes on a tiny untrained model: every figure, the GIF and the page."""

import io

import numpy as np
import pytest
from configs import section
from matplotlib.figure import Figure
from PIL import Image

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.model import VAE
from fashion_vae.pipelines.report import nodes as report_nodes

REPORT = section(
    "report",
    interpolation_rows=3,
    interpolation_steps=5,
    traversal_dimensions=2,
    traversal_steps=4,
    tsne_points=40,
)


@pytest.fixture(scope="module")
def test_set() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.random((60, 28, 28, 1), dtype=np.float32)
    labels = np.arange(60) % 10
    return images, labels, rng.normal(size=(60, 4)).astype(np.float32)


def _as_loaded_png(figure: Figure) -> Image.Image:
    """What the catalog's `<figure>_figure` dataset gives the page: the saved PNG, as an image."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Image.open(io.BytesIO(buffer.getvalue()))


def _image_axes(figure: Figure) -> int:
    return sum(1 for axes in figure.axes if axes.images)


def test_reconstructions_show_two_per_class(vae: VAE, test_set: tuple) -> None:
    images, labels, _ = test_set
    figure = report_nodes.plot_reconstructions(vae, images, labels)
    assert _image_axes(figure) == 2 * 2 * len(CLASS_NAMES)


def test_interpolations_join_images_of_different_classes(vae: VAE, test_set: tuple) -> None:
    _, labels, z_mean = test_set
    figure = report_nodes.plot_interpolations(vae, z_mean, labels, REPORT, seed=1)
    assert _image_axes(figure) == 3 * 5
    row_labels = [t.get_text() for axes in figure.axes for t in axes.texts] + [
        axes.get_ylabel() for axes in figure.axes
    ]
    assert sum("→" in text for text in row_labels) == 3


def test_latent_maps_and_traversals(vae: VAE, test_set: tuple) -> None:
    _, labels, z_mean = test_set
    pca = report_nodes.plot_latent_map_pca(z_mean, labels)
    tsne = report_nodes.plot_latent_map_tsne(z_mean, labels, REPORT, seed=1)
    off = report_nodes.plot_latent_map_tsne(
        z_mean, labels, REPORT.model_copy(update={"tsne_points": 0}), seed=1
    )
    assert pca.axes[0].get_legend() is not None and tsne.axes[0].get_legend() is not None
    assert "t-SNE is off" in off.texts[0].get_text()
    traversals = report_nodes.plot_latent_traversals(vae, z_mean, REPORT)
    assert _image_axes(traversals) == 2 * 4


def test_samples_show_both_samplers_and_one_labelled_row_per_class(test_set: tuple) -> None:
    images, _, _ = test_set
    prior, mixture = images[:40], 1 - images[:30]
    figure = report_nodes.plot_samples(prior, mixture)
    shown = [axes.images[0].get_array() for axes in figure.axes if axes.images]
    assert len(shown) == 40 + 30
    np.testing.assert_array_equal(shown[0], prior[0, ..., 0])  # the prior's grid on the left
    np.testing.assert_array_equal(shown[10], mixture[0, ..., 0])  # one row of 10 each, in turn
    titles = [text.get_text() for text in figure.texts]
    assert "prior" in titles and "latent mixture" in titles
    per_class = images[:60].reshape(10, 6, 28, 28, 1)
    rows = report_nodes.plot_class_conditional(per_class)
    assert _image_axes(rows) == 10 * 6
    assert [axes.get_ylabel() for axes in rows.axes if axes.get_ylabel()] == list(CLASS_NAMES)
