"""Standard VAE figures for Fashion-MNIST, drawn from numpy arrays (no model needed).

Every ``*_figure`` function returns a :class:`matplotlib.figure.Figure` built with the
object-oriented API and never touches pyplot's global state: no backend switch, no
``plt.show``, no figure registered with pyplot. Such figures render headless (``savefig``
picks the Agg canvas for PNG), are freed by the garbage collector like any object, and can be
saved by kedro-datasets' ``matplotlib.MatplotlibDataset``.

Images are float arrays in [0, 1] with the channel axis optional: ``N x 28 x 28`` or
``N x 28 x 28 x 1`` (grids of images have extra leading axes, e.g. ``R x S x 28 x 28``).
Class labels are integers 0-9 indexing :data:`CLASS_NAMES`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from fashion_vae.data.labels import CLASS_NAMES

from .image_grids import TITLE_IN, as_images, image_grid, row_label, show, suptitle

# tab10 has exactly ten distinguishable colours, one per class, used for every class colour.
CLASS_COLORS: tuple[tuple[float, ...], ...] = tuple(colormaps["tab10"].colors)

_METHOD_AXIS_NAMES = {"pca": "PC", "tsne": "t-SNE"}
_METHOD_TITLES = {"pca": "PCA", "tsne": "t-SNE"}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _class_name(label: int | str | np.integer) -> str:
    """Class name for an integer label; strings pass through (already a name)."""
    if isinstance(label, str):
        return label
    return CLASS_NAMES[int(label)]


# --------------------------------------------------------------------------------------------
# Reconstructions, samples, interpolations
# --------------------------------------------------------------------------------------------


def select_per_class(labels: np.ndarray, per_class: int = 2) -> np.ndarray:
    """Indices of the first ``per_class`` images of each class, class by class (-1 if missing)."""
    labels = np.asarray(labels).reshape(-1)
    chosen = np.full((len(CLASS_NAMES), per_class), -1, dtype=np.int64)
    for label in range(len(CLASS_NAMES)):
        # The first occurrences, not a random draw: the figure is then the same on every run.
        found = np.flatnonzero(labels == label)[:per_class]
        chosen[label, : len(found)] = found
    return chosen.reshape(-1)


def reconstructions_figure(
    originals: np.ndarray, reconstructions: np.ndarray, labels: np.ndarray, per_class: int = 2
) -> Figure:
    """Originals (top row) above their reconstructions (bottom row), ``per_class`` per class."""
    originals = as_images(originals, 1, "originals")
    reconstructions = as_images(reconstructions, 1, "reconstructions")
    labels = np.asarray(labels).reshape(-1)
    if not len(originals) == len(reconstructions) == len(labels):
        raise ValueError(
            f"got {len(originals)} originals, {len(reconstructions)} reconstructions and "
            f"{len(labels)} labels; expected the same number of each"
        )
    indices = select_per_class(labels, per_class)
    fig, axes = image_grid(2, len(indices), left=1.05, top=TITLE_IN + 0.25)
    for column, index in enumerate(indices):
        if index < 0:  # too few images of this class: leave its cells blank (frames hidden)
            continue
        show(axes[0, column], originals[index])
        show(axes[1, column], reconstructions[index])
    row_label(axes[0, 0], "original")
    row_label(axes[1, 0], "reconstruction")
    # One class name centred above each group of `per_class` columns.
    for label, name in enumerate(CLASS_NAMES):
        first = axes[0, label * per_class].get_position()
        last = axes[0, label * per_class + per_class - 1].get_position()
        fig.text((first.x0 + last.x1) / 2, first.y1 + 0.02, name, ha="center", va="bottom")
    suptitle(fig, f"Test images and their reconstructions ({per_class} per class)")
    return fig


def samples_figure(samples: np.ndarray, ncols: int = 10) -> Figure:
    """Images decoded from prior codes in a grid (10 x 10 for 100 samples)."""
    samples = as_images(samples, 1, "samples")
    nrows = -(-len(samples) // ncols)  # ceiling division
    fig, axes = image_grid(nrows, ncols)
    for ax, image in zip(axes.flat, samples, strict=False):
        show(ax, image)
    for ax in axes.flat[len(samples) :]:
        ax.set_axis_off()
    suptitle(fig, f"{len(samples)} images decoded from the prior")
    return fig


def interpolations_figure(
    rows: np.ndarray,
    start_labels: Sequence[int | str] | np.ndarray,
    end_labels: Sequence[int | str] | np.ndarray,
) -> Figure:
    """Rows of images decoded along straight latent paths between two test images."""
    rows = as_images(rows, 2, "rows")
    n_rows, n_steps = rows.shape[:2]
    if not len(start_labels) == len(end_labels) == n_rows:
        raise ValueError(
            f"got {n_rows} rows, {len(start_labels)} start labels and {len(end_labels)} end "
            "labels; expected one start and one end label per row"
        )
    fig, axes = image_grid(n_rows, n_steps, left=1.7, top=TITLE_IN + 0.25)
    for row in range(n_rows):
        for step in range(n_steps):
            show(axes[row, step], rows[row, step])
        row_label(
            axes[row, 0], f"{_class_name(start_labels[row])} → {_class_name(end_labels[row])}"
        )
    # The interpolation weight, so a reader can tell where the midpoint is.
    for step, weight in enumerate(np.linspace(0.0, 1.0, n_steps)):
        axes[0, step].set_title(f"{weight:.2g}", fontsize=8, pad=3)
    suptitle(fig, "Interpolations in latent space between test images of different classes")
    return fig


# --------------------------------------------------------------------------------------------
# Latent space
# --------------------------------------------------------------------------------------------


def project_2d(
    z_mean: np.ndarray,
    method: str = "pca",
    max_points: int | None = None,
    seed: int = 0,
    *,
    threads: int | None = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Project posterior means to 2-D with PCA or t-SNE; return (points, indices used)."""
    if method not in _METHOD_AXIS_NAMES:
        raise ValueError(f"method is {method!r}; expected one of {sorted(_METHOD_AXIS_NAMES)}")
    z_mean = np.asarray(z_mean, dtype=np.float64)
    if z_mean.ndim != 2 or len(z_mean) < 3:
        raise ValueError(f"z_mean has shape {z_mean.shape}; expected N x D with N >= 3")
    if max_points is not None and max_points < len(z_mean):
        if max_points < 3:
            raise ValueError(f"max_points is {max_points}; expected at least 3")
        # Sorted so that the subset keeps the data's order and indexes labels directly.
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(len(z_mean), size=max_points, replace=False))
    else:
        indices = np.arange(len(z_mean))
    z = z_mean[indices]
    if method == "pca":
        return _pca(z, 2), indices
    # t-SNE is quadratic-ish in N and slow in high D: a PCA to 50 dims first is the usual
    # speed-up (van der Maaten's and scikit-learn's advice) and loses little structure.
    if z.shape[1] > 50:
        z = _pca(z, 50)
    # scikit-learn requires perplexity < n_samples; 30 is its default for larger sets.
    perplexity = min(30.0, (len(z) - 1) / 3)
    tsne = TSNE(
        n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed
    )
    # t-SNE's gradient runs in OpenMP threads that spin while waiting for each other; on a busy
    # shared CPU that cost 3-5x the run time (2,000 points: 8 s with 1 thread, 24-40 s with 2),
    # hence one thread by default; None lets OpenMP use every core.
    with threadpool_limits(limits=threads, user_api="openmp"):
        return tsne.fit_transform(z), indices


def _pca(z: np.ndarray, components: int) -> np.ndarray:
    """Scores on the first principal components, signs fixed (scikit-learn's svd_flip)."""
    # The eigenvectors of the D × D covariance instead of an SVD of the N × D data: the same
    # axes, and ~100x faster for 10,000 × 200 posterior means.
    pca = PCA(n_components=min(components, z.shape[1]), svd_solver="covariance_eigh")
    return pca.fit_transform(z)


def latent_map_figure(points_2d: np.ndarray, labels: np.ndarray, method: str = "pca") -> Figure:
    """Scatter of 2-D projected posterior means, coloured by class, with a legend."""
    if method not in _METHOD_AXIS_NAMES:
        raise ValueError(f"method is {method!r}; expected one of {sorted(_METHOD_AXIS_NAMES)}")
    points = np.asarray(points_2d, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(
            f"points_2d has shape {points.shape} and labels {labels.shape}; "
            "expected N x 2 points and N labels"
        )
    fig = Figure(figsize=(8.5, 6.5), layout="constrained")
    ax = fig.subplots()
    colors = np.asarray(CLASS_COLORS)[labels]
    # One scatter in data order rather than one per class, so that no class is always drawn on
    # top of the others.
    ax.scatter(points[:, 0], points[:, 1], c=colors, s=4, alpha=0.6, linewidths=0)
    handles = [
        Line2D(
            [], [], marker="o", linestyle="", color=CLASS_COLORS[label], label=CLASS_NAMES[label]
        )
        for label in np.unique(labels)
    ]
    ax.legend(handles=handles, title="class", loc="center left", bbox_to_anchor=(1.01, 0.5))
    axis = _METHOD_AXIS_NAMES[method]
    ax.set_xlabel(f"{axis} 1")
    ax.set_ylabel(f"{axis} 2")
    ax.set_title(
        f"Posterior means of {len(points):,} test images, {_METHOD_TITLES[method]} projection"
    )
    return fig


def traversal_codes(
    z_center: np.ndarray,
    dimensions: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    relative: bool = False,
) -> np.ndarray:
    """Codes ``D x V x latent``: ``z_center`` with one dimension set to (or moved by) each value."""
    z_center = np.asarray(z_center, dtype=np.float32).reshape(-1)
    dimensions = np.asarray(dimensions, dtype=np.int64).reshape(-1)
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    if np.any((dimensions < 0) | (dimensions >= len(z_center))):
        raise ValueError(f"dimensions {dimensions.tolist()} outside 0..{len(z_center) - 1}")
    codes = np.broadcast_to(z_center, (len(dimensions), len(values), len(z_center))).copy()
    rows = np.arange(len(dimensions))
    base = z_center[dimensions][:, None] if relative else 0.0
    codes[rows, :, dimensions] = base + values[None, :]
    return codes


def latent_traversals_figure(
    traversals: np.ndarray,
    dimensions: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
) -> Figure:
    """Decoded traversals ``D x V``: one latent dimension varied per row, value per column."""
    traversals = as_images(traversals, 2, "traversals")
    n_dims, n_values = traversals.shape[:2]
    if len(dimensions) != n_dims or len(values) != n_values:
        raise ValueError(
            f"traversals are {n_dims} x {n_values} images; got {len(dimensions)} dimensions "
            f"and {len(values)} values"
        )
    fig, axes = image_grid(n_dims, n_values, left=0.7, top=TITLE_IN + 0.25, bottom=0.4)
    for row, dimension in enumerate(dimensions):
        for column in range(n_values):
            show(axes[row, column], traversals[row, column])
        row_label(axes[row, 0], f"z[{int(dimension)}]")
    for column, value in enumerate(values):
        # A sign on every non-zero value, so that columns read as offsets from the prior's mean.
        label = f"{float(value):+.3g}" if value != 0 else "0"
        axes[0, column].set_title(label, fontsize=8, pad=3)
    fig.text(0.5, 0.15 / fig.get_figheight(), "value of the varied dimension", ha="center")
    suptitle(fig, "Latent traversals: the most active dimensions varied one at a time")
    return fig


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

# (train column, title) for each panel; validation columns are the same with a "val_" prefix.
_CURVE_PANELS = (
    ("neg_elbo", "Total: negative ELBO"),
    ("reconstruction", "Reconstruction (Bernoulli NLL)"),
    ("kl", "KL(q(z|x) || p(z))"),
)


def training_curves_figure(history: pd.DataFrame) -> Figure:
    """Negative ELBO, reconstruction and KL per epoch, train and validation, in three panels."""
    missing = [column for column, _ in _CURVE_PANELS if column not in history]
    if "epoch" not in history or missing:
        raise ValueError(
            f"history lacks columns {(['epoch'] if 'epoch' not in history else []) + missing}"
        )
    epochs = history["epoch"].to_numpy()
    # Markers only help when there are few points; on long runs they clutter the line.
    marker = "o" if len(epochs) <= 30 else None
    fig = Figure(figsize=(13, 4), layout="constrained")
    axes = fig.subplots(1, len(_CURVE_PANELS), sharex=True)
    for ax, (column, title) in zip(axes, _CURVE_PANELS, strict=True):
        ax.plot(epochs, history[column], marker=marker, markersize=3, label="train")
        if f"val_{column}" in history:
            ax.plot(
                epochs, history[f"val_{column}"], marker=marker, markersize=3, label="validation"
            )
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 2.5" ticks
        ax.set_ylabel("nats per image")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Training curves")
    return fig


def per_class_error_figure(per_class: Mapping[str, float], metric_name: str) -> Figure:
    """Bar chart of a per-class reconstruction error, one bar per class."""
    # Class order when the keys are class names, so charts of different runs line up.
    names = [name for name in CLASS_NAMES if name in per_class]
    names += [name for name in per_class if name not in CLASS_NAMES]
    heights = [float(per_class[name]) for name in names]
    colors = [
        CLASS_COLORS[CLASS_NAMES.index(name)] if name in CLASS_NAMES else "tab:gray"
        for name in names
    ]
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar(names, heights, color=colors)
    ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_xlabel("class")
    ax.set_ylabel(metric_name)
    ax.set_title(f"Per-class {metric_name} on the test set")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def _progress_rows(n_epochs: int, max_rows: int) -> np.ndarray:
    """Indices of the epochs to show: all if few, else first, last and evenly spaced between."""
    if n_epochs <= max_rows:
        return np.arange(n_epochs)
    return np.unique(np.round(np.linspace(0, n_epochs - 1, max_rows)).astype(np.int64))


def progress_strip_figure(
    progress: np.ndarray, epochs: Sequence[int] | None = None, max_rows: int = 12
) -> Figure:
    """The same prior samples decoded after each epoch: one row per (shown) epoch."""
    progress = as_images(progress, 2, "progress")
    epochs = list(range(1, len(progress) + 1)) if epochs is None else list(epochs)
    if len(epochs) != len(progress):
        raise ValueError(f"got {len(progress)} epochs of images and {len(epochs)} epoch numbers")
    shown = _progress_rows(len(progress), max_rows)
    fig, axes = image_grid(len(shown), progress.shape[1], left=0.8)
    for row, index in enumerate(shown):
        for column, image in enumerate(progress[index]):
            show(axes[row, column], image)
        row_label(axes[row, 0], f"epoch {epochs[index]}")
    title = "The same prior samples decoded after each epoch"
    if len(shown) < len(progress):
        title += f" ({len(shown)} of {len(progress)} epochs)"
    suptitle(fig, title)
    return fig


def progress_gif(
    progress: np.ndarray,
    epochs: Sequence[int] | None = None,
    frame_ms: int = 400,
    last_frame_ms: int = 2000,
    scale: int = 2,
) -> bytes:
    """Animated GIF, one frame per epoch, each a square grid (4 x 4 for 16) of the samples."""
    progress = as_images(progress, 2, "progress")
    n_epochs, n_images, height, width = progress.shape
    epochs = list(range(1, n_epochs + 1)) if epochs is None else list(epochs)
    if len(epochs) != n_epochs or n_epochs == 0:
        raise ValueError(f"got {n_epochs} epochs of images and {len(epochs)} epoch numbers")
    side = int(np.ceil(np.sqrt(n_images)))
    pixels = np.zeros((n_epochs, side * side, height, width), dtype=np.float32)
    pixels[:, :n_images] = progress
    # (E, side*side, H, W) -> (E, side*H, side*W): tile the images row by row.
    grids = pixels.reshape(n_epochs, side, side, height, width).transpose(0, 1, 3, 2, 4)
    grids = grids.reshape(n_epochs, side * height, side * width)
    grids = np.repeat(np.repeat(grids, scale, axis=1), scale, axis=2)  # nearest-neighbour zoom
    grey = np.round(np.clip(grids, 0.0, 1.0) * 255).astype(np.uint8)
    caption_px = 16
    frames = []
    for epoch, grid in zip(epochs, grey, strict=True):
        frame = Image.new("L", (grid.shape[1], grid.shape[0] + caption_px), color=255)
        frame.paste(Image.fromarray(grid), (0, 0))
        # The caption also makes consecutive frames differ, so Pillow never merges two epochs.
        ImageDraw.Draw(frame).text((4, grid.shape[0] + 2), f"epoch {epoch}", fill=0)
        frames.append(frame)
    buffer = io.BytesIO()
    durations = [frame_ms] * (n_epochs - 1) + [last_frame_ms]  # linger on the final model
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
    )
    return buffer.getvalue()
