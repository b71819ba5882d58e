"""Figures of the latent-space sweep: metrics against latent size, and a 2-D latent space.

Drawn with matplotlib's object-oriented API from a table and arrays, like `figures`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from fashion_vae.data.labels import CLASS_NAMES

from .figures import CLASS_COLORS

# Panel → (column, label) of each line it draws; a column the table lacks or leaves empty is
# left out (an evaluation without a mixture sampler has no fid_gmm).
_PANELS = {
    "Test likelihood bounds (nats/image, lower is better)": [
        ("negative_elbo", "negative ELBO"),
        ("negative_log_likelihood_iwae", "−log p(x), IWAE bound"),
    ],
    "Fréchet distance, classifier features (lower is better)": [
        ("fid_prior", "prior"),
        ("fid_gmm", "latent mixture"),
    ],
    "Test accuracy on posterior means": [
        ("linear_probe_accuracy", "linear probe"),
        ("knn_accuracy", "k-NN"),
    ],
    "Active units": [("active_units", "active units"), ("latent_dim", "all units (latent_dim)")],
}


def sweep_comparison_figure(comparison: pd.DataFrame) -> Figure:
    """Four panels: likelihood bounds, FIDs, probe accuracies and active units by latent_dim."""
    if comparison.empty or "latent_dim" not in comparison:
        raise ValueError("the comparison has no members (rows with a latent_dim) to plot")
    table = comparison.sort_values("latent_dim")
    x = table["latent_dim"].to_numpy(dtype=float)
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    for ax, (title, lines) in zip(axes.flat, _PANELS.items(), strict=True):
        for column, label in lines:
            values = pd.to_numeric(table.get(column), errors="coerce")
            if values is None or values.isna().all():
                continue
            style = "--" if column == "latent_dim" else "-"
            ax.plot(x, values.to_numpy(dtype=float), style, marker="o", label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [f"{int(v)}" for v in x])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("latent_dim")
    names = ", ".join(f"{m} ({int(d)})" for m, d in zip(table["member"], x, strict=True))
    fig.suptitle(f"Latent-space sweep: {names}", fontsize=12)
    return fig


def latent_plane_figure(
    grid: np.ndarray, z_mean: np.ndarray, labels: np.ndarray, extent: float
) -> Figure:
    """Decoded images over [-extent, extent]² beside the test posterior means, by class.

    `grid` is S × S × 28 × 28 pixel probabilities, row 0 at z2 = +extent; both panels share
    their axes, so an image sits where the codes that decode like it lie.
    """
    grid = np.asarray(grid, dtype=np.float32)
    z_mean = np.asarray(z_mean, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if grid.ndim != 4 or grid.shape[0] != grid.shape[1]:
        raise ValueError(f"grid has shape {grid.shape}; expected S x S x H x W")
    if z_mean.ndim != 2 or z_mean.shape[1] != 2 or len(z_mean) != len(labels):
        raise ValueError(
            f"z_mean has shape {z_mean.shape} and labels {labels.shape}; expected N x 2 and N"
        )
    side, height, width = grid.shape[0], grid.shape[2], grid.shape[3]
    mosaic = grid.transpose(0, 2, 1, 3).reshape(side * height, side * width)
    # Grid points are cell centres: the mosaic reaches half a cell past ±extent.
    half = extent / (side - 1)
    limits = (-extent - half, extent + half)
    fig = Figure(figsize=(15, 7), layout="constrained")
    decoded, codes = fig.subplots(1, 2, sharex=True, sharey=True)
    decoded.imshow(mosaic, cmap="gray", vmin=0, vmax=1, extent=(*limits, *limits))
    decoded.set_title(f"Decoded from a {side} × {side} grid of latent codes")
    colors = np.asarray(CLASS_COLORS)[labels]
    codes.scatter(z_mean[:, 0], z_mean[:, 1], c=colors, s=4, alpha=0.6, linewidths=0)
    outside = int(np.sum(np.any(np.abs(z_mean) > limits[1], axis=1)))
    codes.set_title(
        f"Posterior means of {len(z_mean):,} test images ({outside:,} outside the frame)"
    )
    handles = [
        Line2D([], [], marker="o", linestyle="", color=CLASS_COLORS[c], label=CLASS_NAMES[c])
        for c in np.unique(labels)
    ]
    codes.legend(handles=handles, title="class", loc="center left", bbox_to_anchor=(1.01, 0.5))
    for ax in (decoded, codes):
        ax.set_xlim(limits)
        ax.set_ylim(limits)
        ax.set_aspect("equal")
        ax.set_xlabel("z₁")
    decoded.set_ylabel("z₂")
    fig.suptitle("The 2-D latent space", fontsize=12)
    return fig
