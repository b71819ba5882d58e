"""Nodes of the sweep pipeline: each member's summary, their comparison, the 2-D latent space."""

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fashion_vae.model import VAE, decode_latents
from fashion_vae.parameters import SweepParameters
from fashion_vae.reporting.sweep_figures import latent_plane_figure, sweep_comparison_figure

# The comparison's columns, in order: where each comes from in a member's metrics.json.
METRIC_COLUMNS = {
    "latent_dim": ("latent", "latent_dim"),
    "negative_elbo": ("elbo", "negative_elbo"),
    "negative_elbo_standard_error": ("elbo", "standard_error"),
    "negative_log_likelihood_iwae": ("log_likelihood", "negative_log_likelihood_iwae"),
    "fid_prior": ("generation", "prior", "fid_fashion_classifier"),
    "fid_gmm": ("generation", "gmm", "fid_fashion_classifier"),
    "linear_probe_accuracy": ("feature_learning", "linear_probe_accuracy"),
    "knn_accuracy": ("feature_learning", "knn_accuracy"),
    "active_units": ("latent", "active_units"),
}


def _metric(metrics: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at `path` in the metrics, or None where this evaluation has none."""
    value: Any = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def summarize_member(metrics: dict[str, Any], history: pd.DataFrame) -> dict[str, Any]:
    """One member's row of the comparison: its headline metrics and the epochs it trained."""
    row = {column: _metric(metrics, path) for column, path in METRIC_COLUMNS.items()}
    return {**row, "epochs": len(history)}


def compare_members(sweep: SweepParameters, **summaries: dict[str, Any]) -> pd.DataFrame:
    """The comparison table: one row per member, in the order of `sweep.members`."""
    names = [member.name for member in sweep.members]
    if list(summaries) != names:
        # The pipeline was built for other members than this run's parameters list.
        raise ValueError(
            f"the sweep pipeline compares members {list(summaries)}, but sweep.members lists "
            f"{names}; register the pipelines again for these parameters"
        )
    rows = [{"member": name, **summaries[name]} for name in names]
    return pd.DataFrame(rows, columns=["member", *METRIC_COLUMNS, "epochs"])


def plot_comparison(comparison: pd.DataFrame) -> Figure:
    """Each headline metric of the members against their latent size."""
    return sweep_comparison_figure(comparison)


def plot_latent_space(
    vae: VAE, test_z_mean: np.ndarray, test_labels: np.ndarray, sweep: SweepParameters
) -> Figure:
    """A 2-D latent space: images decoded on a grid over the plane, and the test codes by class."""
    if vae.latent_dim != 2:
        raise ValueError(
            f"the latent-space figure needs latent_dim 2; this model has {vae.latent_dim}"
        )
    settings = sweep.latent_space
    axis = np.linspace(-settings.extent, settings.extent, settings.grid_size, dtype=np.float32)
    # Rows from the top (z2 = +extent) down, columns left to right, as the plane is drawn.
    z2, z1 = np.meshgrid(axis[::-1], axis, indexing="ij")
    grid = decode_latents(vae, np.stack([z1.ravel(), z2.ravel()], axis=1), len(axis) ** 2)
    images = grid[..., 0].reshape(len(axis), len(axis), *grid.shape[1:3])
    return latent_plane_figure(images, np.asarray(test_z_mean), test_labels, settings.extent)
