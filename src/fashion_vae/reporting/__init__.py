"""Figures and an HTML report for a trained VAE, computed from numpy arrays (no model needed)."""

from .figures import (
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
from .html_report import build_report, flatten_metrics
from .sample_grids import (
    class_rows_figure,
    encodings_figure,
    image_grid_figure,
    sampler_grids_figure,
)

__all__ = [
    "CLASS_NAMES",
    "build_report",
    "class_rows_figure",
    "encodings_figure",
    "flatten_metrics",
    "image_grid_figure",
    "interpolations_figure",
    "latent_map_figure",
    "latent_traversals_figure",
    "per_class_error_figure",
    "progress_gif",
    "progress_strip_figure",
    "project_2d",
    "reconstructions_figure",
    "sampler_grids_figure",
    "samples_figure",
    "select_per_class",
    "training_curves_figure",
    "traversal_codes",
]
