"""Tests of the VAE figures: panels, labels and titles, headless, from plain numpy arrays."""

import io
import os

os.environ.setdefault("MPLBACKEND", "Agg")  # headless: no display is needed (or available)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from kedro.io.core import Version
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from sklearn.decomposition import PCA

from fashion_vae.reporting.figures import (
    CLASS_NAMES,
    interpolations_figure,
    latent_map_figure,
    latent_traversals_figure,
    per_class_error_figure,
    progress_gif,
    progress_strip_figure,
    project_2d,
    reconstructions_figure,
    samples_figure,
    select_per_class,
    training_curves_figure,
    traversal_codes,
)

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig: Figure) -> list[str]:
    """Every piece of text drawn in the figure: titles, labels, tick labels, annotations."""
    return [text.get_text() for text in fig.findobj(Text)]


def _image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


def _labelled_images(n: int, channel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n images whose pixels all equal their own index / n, so each can be identified."""
    images = np.broadcast_to((np.arange(n) / n)[:, None, None], (n, 28, 28)).astype(np.float32)
    return (images[..., None] if channel else images), np.arange(n) % 10


def test_class_names_are_the_ten_fashion_mnist_classes():
    assert len(CLASS_NAMES) == len(set(CLASS_NAMES)) == 10
    assert CLASS_NAMES[0] == "T-shirt/top"
    assert CLASS_NAMES[9] == "Ankle boot"


def test_select_per_class_takes_first_occurrences_and_marks_missing_classes():
    labels = np.array([3, 0, 3, 0, 0, 3, 1])
    chosen = select_per_class(labels, per_class=2).reshape(10, 2)
    np.testing.assert_array_equal(chosen[0], [1, 3])
    np.testing.assert_array_equal(chosen[1], [6, -1])
    np.testing.assert_array_equal(chosen[3], [0, 2])
    assert (chosen[[2, 4, 5, 6, 7, 8, 9]] == -1).all()


@pytest.mark.parametrize("channel", [False, True])
def test_reconstructions_figure_has_two_rows_of_twenty_with_class_names(channel):
    originals, labels = _labelled_images(60, channel)
    reconstructions = 1.0 - originals
    fig = reconstructions_figure(originals, reconstructions, labels)

    assert isinstance(fig, Figure)
    image_axes = _image_axes(fig)
    assert len(image_axes) == 40
    texts = _texts(fig)
    assert all(name in texts for name in CLASS_NAMES)
    assert "reconstruction" in fig.get_suptitle()
    assert {"original", "reconstruction"} <= {ax.get_ylabel() for ax in fig.axes}

    # Top-left cell is the first T-shirt (index 0), the cell below it its reconstruction.
    def reading_order(ax):
        return (-round(ax.get_position().y0, 6), round(ax.get_position().x0, 6))

    top = sorted(image_axes, key=reading_order)
    assert top[0].images[0].get_array()[0, 0] == pytest.approx(originals[0].ravel()[0])
    assert top[20].images[0].get_array()[0, 0] == pytest.approx(reconstructions[0].ravel()[0])
    assert top[1].images[0].get_array()[0, 0] == pytest.approx(originals[10].ravel()[0])


def test_reconstructions_figure_leaves_missing_classes_blank():
    originals, labels = _labelled_images(60)
    keep = labels != 4
    fig = reconstructions_figure(originals[keep], originals[keep], labels[keep])
    assert len(_image_axes(fig)) == 36
    assert "Coat" in _texts(fig)  # the column is still named


def test_reconstructions_figure_rejects_misaligned_inputs():
    originals, labels = _labelled_images(20)
    with pytest.raises(ValueError, match="same number"):
        reconstructions_figure(originals, originals[:10], labels)


def test_samples_figure_is_a_ten_by_ten_grid():
    fig = samples_figure(RNG.random((100, 28, 28), dtype=np.float32))
    image_axes = _image_axes(fig)
    assert len(image_axes) == 100
    assert len({round(ax.get_position().x0, 6) for ax in image_axes}) == 10
    assert len({round(ax.get_position().y0, 6) for ax in image_axes}) == 10
    assert "prior" in fig.get_suptitle()
    # A fixed [0, 1] grey scale, not per-image autoscaling.
    assert image_axes[0].images[0].get_clim() == (0.0, 1.0)


def test_samples_figure_accepts_a_channel_axis_and_partial_rows():
    samples = RNG.random((23, 28, 28, 1), dtype=np.float32)
    fig = samples_figure(samples)
    image_axes = _image_axes(fig)
    assert len(image_axes) == 23
    np.testing.assert_array_equal(image_axes[-1].images[0].get_array(), samples[-1, ..., 0])


def test_images_with_a_wrong_shape_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        samples_figure(np.zeros((10, 28, 28, 3)))


def test_interpolations_figure_labels_each_row_with_its_classes():
    rows = RNG.random((3, 7, 28, 28, 1), dtype=np.float32)
    fig = interpolations_figure(rows, [4, 0, "Bag"], [7, 9, "Sandal"])
    assert len(_image_axes(fig)) == 21
    ylabels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert ylabels == ["Coat → Sneaker", "T-shirt/top → Ankle boot", "Bag → Sandal"]
    assert fig.get_suptitle()
    with pytest.raises(ValueError, match="label"):
        interpolations_figure(rows, [4, 0], [7, 9])


def test_project_2d_pca_shapes_and_agreement_with_sklearn():
    z = RNG.standard_normal((300, 16)) * np.linspace(5, 0.1, 16)
    points, indices = project_2d(z, "pca")
    assert points.shape == (300, 2)
    np.testing.assert_array_equal(indices, np.arange(300))
    expected = PCA(n_components=2).fit_transform(z)
    np.testing.assert_allclose(np.abs(points), np.abs(expected), atol=1e-8)
    assert points[:, 0].var() >= points[:, 1].var()


def test_project_2d_subset_is_seeded():
    z = RNG.standard_normal((500, 8))
    points, indices = project_2d(z, "pca", max_points=120, seed=3)
    assert points.shape == (120, 2)
    assert indices.shape == (120,)
    assert np.all(np.diff(indices) > 0) and indices.min() >= 0 and indices.max() < 500
    again, same = project_2d(z, "pca", max_points=120, seed=3)
    np.testing.assert_array_equal(indices, same)
    np.testing.assert_array_equal(points, again)
    _, other = project_2d(z, "pca", max_points=120, seed=4)
    assert not np.array_equal(indices, other)


def test_project_2d_tsne_is_seeded_deterministic():
    z = RNG.standard_normal((120, 60)).astype(np.float32)
    points, indices = project_2d(z, "tsne", max_points=80, seed=1)
    assert points.shape == (80, 2) and indices.shape == (80,)
    again, same = project_2d(z, "tsne", max_points=80, seed=1)
    np.testing.assert_array_equal(indices, same)
    np.testing.assert_allclose(points, again)


def test_project_2d_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        project_2d(np.zeros((10, 3)), "umap")


@pytest.mark.parametrize(("method", "axis"), [("pca", "PC"), ("tsne", "t-SNE")])
def test_latent_map_figure_colours_by_class_with_a_legend(method, axis):
    labels = np.array([0, 1, 2, 7, 7, 9] * 10)
    fig = latent_map_figure(RNG.standard_normal((60, 2)), labels, method)
    (ax,) = fig.axes
    assert ax.get_xlabel() == f"{axis} 1"
    assert ax.get_ylabel() == f"{axis} 2"
    assert ax.get_title()
    (scatter,) = ax.collections
    assert len(scatter.get_offsets()) == 60
    assert len({tuple(c) for c in scatter.get_facecolors()}) == 5
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["T-shirt/top", "Trouser", "Pullover", "Sneaker", "Ankle boot"]


def test_traversal_codes_change_only_the_chosen_dimension():
    center = RNG.standard_normal(32).astype(np.float32)
    dimensions, values = [17, 3, 0], np.linspace(-3, 3, 5)
    codes = traversal_codes(center, dimensions, values)
    assert codes.shape == (3, 5, 32)
    for row, dimension in enumerate(dimensions):
        np.testing.assert_allclose(codes[row, :, dimension], values, rtol=1e-6)
        others = np.delete(codes[row], dimension, axis=1)
        np.testing.assert_array_equal(
            others, np.broadcast_to(np.delete(center, dimension), others.shape)
        )
    shifted = traversal_codes(center, [5], values, relative=True)
    np.testing.assert_allclose(shifted[0, :, 5], center[5] + values, rtol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        traversal_codes(center, [32], values)


def test_latent_traversals_figure_labels_rows_and_columns():
    values = np.linspace(-2, 2, 5)
    fig = latent_traversals_figure(RNG.random((3, 5, 28, 28), dtype=np.float32), [17, 4, 9], values)
    assert len(_image_axes(fig)) == 15
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == ["z[17]", "z[4]", "z[9]"]
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["-2", "-1", "0", "+1", "+2"]
    assert fig.get_suptitle()


def _history(epochs: int = 6) -> pd.DataFrame:
    columns = ["loss", "reconstruction", "kl", "neg_elbo"]
    data = {column: RNG.random(epochs) for column in columns}
    data |= {f"val_{column}": RNG.random(epochs) for column in columns}
    return pd.DataFrame({"epoch": np.arange(1, epochs + 1), **data, "learning_rate": 1e-3})


def test_training_curves_figure_has_three_panels_of_train_and_validation():
    history = _history()
    fig = training_curves_figure(history)
    assert len(fig.axes) == 3
    for ax, column in zip(fig.axes, ["neg_elbo", "reconstruction", "kl"], strict=True):
        train, validation = ax.get_lines()
        assert len(ax.get_lines()) == 2
        assert ax.get_legend() is not None
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() and ax.get_title()
        np.testing.assert_array_equal(train.get_xdata(), history["epoch"])
        np.testing.assert_array_equal(train.get_ydata(), history[column])
        np.testing.assert_array_equal(validation.get_ydata(), history[f"val_{column}"])
    with pytest.raises(ValueError, match="kl"):
        training_curves_figure(history.drop(columns="kl"))


def test_per_class_error_figure_orders_bars_by_class_and_rotates_names():
    per_class = {name: float(i) / 10 for i, name in enumerate(CLASS_NAMES)}
    shuffled = dict(reversed(per_class.items()))
    fig = per_class_error_figure(shuffled, "MSE")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    assert all(t.get_rotation() > 0 for t in ax.get_xticklabels())
    assert [bar.get_height() for bar in ax.patches] == pytest.approx(list(per_class.values()))
    assert ax.get_ylabel() == "MSE"
    assert "MSE" in ax.get_title()


def test_progress_strip_shows_every_epoch_when_few():
    fig = progress_strip_figure(RNG.random((5, 16, 28, 28), dtype=np.float32))
    assert len(_image_axes(fig)) == 80
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == [
        f"epoch {epoch}" for epoch in range(1, 6)
    ]


def test_progress_strip_subsamples_many_epochs_keeping_first_and_last():
    fig = progress_strip_figure(RNG.random((40, 16, 28, 28, 1), dtype=np.float32), max_rows=12)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert len(labels) == 12
    assert labels[0] == "epoch 1" and labels[-1] == "epoch 40"
    assert len(_image_axes(fig)) == 12 * 16
    assert "12 of 40" in fig.get_suptitle()


@pytest.mark.parametrize("constant", [False, True])
def test_progress_gif_has_one_frame_per_epoch(constant):
    progress = RNG.random((7, 16, 28, 28), dtype=np.float32)
    if constant:  # identical epochs must still give distinct frames (Pillow merges duplicates)
        progress[:] = 0.5
    gif = progress_gif(progress)
    assert isinstance(gif, bytes)
    assert gif.startswith(b"GIF89a")
    with Image.open(io.BytesIO(gif)) as image:
        assert image.n_frames == 7
        assert image.is_animated
        assert image.info.get("loop") == 0
        assert image.size == (4 * 28 * 2, 4 * 28 * 2 + 16)  # a 4 x 4 grid at scale 2


def test_figures_are_not_registered_with_pyplot():
    plt.close("all")
    samples_figure(RNG.random((4, 28, 28), dtype=np.float32))
    training_curves_figure(_history())
    assert plt.get_fignums() == []  # nothing for pyplot to leak or to show


def test_matplotlib_dataset_saves_a_figure_as_versioned_png(tmp_path):
    dataset = MatplotlibDataset(filepath=str(tmp_path / "samples.png"), version=Version(None, None))
    dataset.save(samples_figure(RNG.random((4, 28, 28), dtype=np.float32)))
    (saved,) = (tmp_path / "samples.png").glob("*/samples.png")
    assert saved.read_bytes().startswith(b"\x89PNG")
