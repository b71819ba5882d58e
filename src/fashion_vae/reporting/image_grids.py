"""Grids of square image cells laid out in inches, shared by the report's figures: cells stay
square whatever the grid's shape, and titles and row labels sit in fixed margins."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Image grids are laid out in inches so that cells stay square whatever the grid's shape.
CELL_IN = 0.7
GAP = 0.06  # space between cells, as a fraction of a cell
TITLE_IN = 0.55


def as_images(array: np.ndarray, leading: int, name: str) -> np.ndarray:
    """Return ``array`` as float images ``(*leading axes, H, W)``, dropping a channel axis of 1."""
    images = np.asarray(array, dtype=np.float32)
    if images.ndim == leading + 3 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != leading + 2:
        expected = " x ".join(["N"] * leading + ["H", "W"])
        raise ValueError(f"{name} has shape {array.shape}; expected {expected} (x 1)")
    return images


def image_grid(
    nrows: int,
    ncols: int,
    *,
    left: float = 0.1,
    right: float = 0.1,
    top: float = TITLE_IN,
    bottom: float = 0.1,
) -> tuple[Figure, np.ndarray]:
    """A figure holding an ``nrows x ncols`` grid of square image cells; margins in inches."""
    width = left + right + CELL_IN * (ncols + (ncols - 1) * GAP)
    height = top + bottom + CELL_IN * (nrows + (nrows - 1) * GAP)
    fig = Figure(figsize=(width, height))
    # A fixed GridSpec rather than constrained layout: the latter is slow for hundreds of axes
    # and would resize cells to fit labels, which we place in the margins ourselves.
    axes = fig.subplots(
        nrows,
        ncols,
        squeeze=False,
        gridspec_kw={
            "left": left / width,
            "right": 1 - right / width,
            "bottom": bottom / height,
            "top": 1 - top / height,
            "wspace": GAP,
            "hspace": GAP,
        },
    )
    for ax in axes.flat:
        # Hide ticks and spines but keep the axis itself, so that y labels still show.
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    return fig, axes


def show(ax: Axes, image: np.ndarray) -> None:
    """Draw one image on a fixed [0, 1] grey scale, so intensities compare across cells."""
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def suptitle(fig: Figure, title: str) -> None:
    """Figure title at a fixed distance from the top edge, in inches."""
    height = fig.get_figheight()
    fig.suptitle(title, y=1 - 0.12 / height, va="top", fontsize=12)


def row_label(ax: Axes, text: str) -> None:
    """Horizontal label to the left of a row of images."""
    ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=9, labelpad=6)
