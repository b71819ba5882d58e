"""Grids of generated and encoded images: one sampler, samplers side by side, one row per class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .image_grids import TITLE_IN, as_images, image_grid, row_label, show, suptitle

# Longest file name shown above an encoded image; longer ones keep their start and end.
_NAME_CHARS = 11
# Grids are at least this many cells wide, so that their title fits.
_MIN_COLUMNS = 6


def image_grid_figure(images: np.ndarray, title: str, ncols: int = 8) -> Figure:
    """Images in rows of `ncols` under a title."""
    images = as_images(images, 1, "images")
    per_row = max(1, min(ncols, len(images)))
    fig, axes = image_grid(-(-len(images) // per_row), max(per_row, _MIN_COLUMNS))
    for ax in axes.flat:
        ax.set_axis_off()
    for index, image in enumerate(images):
        ax = axes[index // per_row, index % per_row]
        ax.set_axis_on()
        show(ax, image)
    suptitle(fig, title)
    return fig


def sampler_grids_figure(grids: Mapping[str, np.ndarray], ncols: int = 10) -> Figure:
    """One square-ish grid per sampler, side by side, each titled with the sampler's name."""
    panels = {name: as_images(images, 1, name) for name, images in grids.items()}
    if not panels or any(len(images) == 0 for images in panels.values()):
        raise ValueError("expected at least one sampler, each with at least one image")
    nrows = max(-(-len(images) // ncols) for images in panels.values())
    # One empty column between two panels.
    width = len(panels) * ncols + len(panels) - 1
    fig, axes = image_grid(nrows, width, top=TITLE_IN + 0.3)
    for ax in axes.flat:
        ax.set_axis_off()
    for index, (name, images) in enumerate(panels.items()):
        first = index * (ncols + 1)
        for cell, image in enumerate(images[: nrows * ncols]):
            ax = axes[cell // ncols, first + cell % ncols]
            ax.set_axis_on()
            show(ax, image)
        left = axes[0, first].get_position()
        right = axes[0, first + ncols - 1].get_position()
        fig.text(
            (left.x0 + right.x1) / 2,
            left.y1 + 0.05 / fig.get_figheight(),
            name,
            ha="center",
            va="bottom",
            fontsize=11,
        )
    suptitle(fig, "Samples from each sampler, decoded")
    return fig


def class_rows_figure(samples: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """Samples C × S: one row per class, labelled with its name."""
    samples = as_images(samples, 2, "samples")
    if len(samples) != len(class_names):
        raise ValueError(
            f"got {len(samples)} rows of samples and {len(class_names)} class names; "
            "expected one row per class"
        )
    fig, axes = image_grid(*samples.shape[:2], left=1.05)
    for row, name in enumerate(class_names):
        for column, image in enumerate(samples[row]):
            show(axes[row, column], image)
        row_label(axes[row, 0], name)
    suptitle(fig, title)
    return fig


def _short(name: str) -> str:
    """A file name cut to fit above an image."""
    if len(name) <= _NAME_CHARS:
        return name
    keep = (_NAME_CHARS - 1) // 2
    return f"{name[:keep]}…{name[-keep:]}"


def encodings_figure(
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    names: Sequence[str],
    nearest_classes: Sequence[str],
    ncols: int = 10,
) -> Figure:
    """Each input (28 × 28, as the model saw it) above its reconstruction, named and classed."""
    inputs = as_images(inputs, 1, "inputs")
    reconstructions = as_images(reconstructions, 1, "reconstructions")
    if not len(inputs) == len(reconstructions) == len(names) == len(nearest_classes):
        raise ValueError(
            f"got {len(inputs)} inputs, {len(reconstructions)} reconstructions, {len(names)} "
            f"names and {len(nearest_classes)} classes; expected as many of each"
        )
    per_row = max(1, min(ncols, len(inputs)))
    blocks = -(-len(inputs) // per_row)
    # Each block: a row of inputs and a row of reconstructions, then a spacer row.
    fig, axes = image_grid(3 * blocks - 1, max(per_row, _MIN_COLUMNS), left=1.1, top=TITLE_IN + 0.2)
    for ax in axes.flat:
        ax.set_axis_off()
    for index, (name, nearest) in enumerate(zip(names, nearest_classes, strict=True)):
        block, column = divmod(index, per_row)
        top, bottom = axes[3 * block, column], axes[3 * block + 1, column]
        for ax, image in ((top, inputs[index]), (bottom, reconstructions[index])):
            ax.set_axis_on()
            show(ax, image)
        top.set_title(_short(name), fontsize=6, pad=2)
        bottom.set_xlabel(nearest, fontsize=7, labelpad=2)
    for block in range(blocks):
        axes[3 * block, 0].set_axis_on()
        axes[3 * block + 1, 0].set_axis_on()
        row_label(axes[3 * block, 0], "input")
        row_label(axes[3 * block + 1, 0], "reconstruction")
    suptitle(fig, "Inputs, reconstructions and nearest class")
    return fig
