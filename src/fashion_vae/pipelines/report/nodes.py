"""Nodes that draw the report figures and gather them, with the metrics, in one HTML page."""

import io
from typing import Any

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.model import VAE, decode_latents
from fashion_vae.parameters import ReportParameters
from fashion_vae.reporting import (
    build_report,
    class_rows_figure,
    interpolations_figure,
    latent_map_figure,
    latent_traversals_figure,
    per_class_error_figure,
    progress_gif,
    progress_strip_figure,
    project_2d,
    reconstructions_figure,
    sampler_grids_figure,
    select_per_class,
    training_curves_figure,
    traversal_codes,
)

# The figures decode at most a few hundred codes: one decoder call each.
DECODE_BATCH = 1000

# One line under each figure of the report page, keyed like the figure datasets.
CAPTIONS = {
    "reconstructions": "Two test images per class (top) and their posterior-mean reconstructions.",
    "samples": "One hundred images decoded from the prior (left) and from the latent mixture "
    "fitted to the training codes (right).",
    "class_samples": "Images decoded from each class's own latent mixture, one row per class.",
    "interpolations": "Decoded straight latent paths between test images of different classes.",
    "latent_map_pca": "Test posterior means projected on their first two principal components.",
    "latent_map_tsne": "t-SNE of a seeded subset of the test posterior means.",
    "latent_traversals": "The most active latent dimensions, one at a time, around a test image.",
    "training_curves": "Train and validation loss terms per epoch, nats per image.",
    "per_class_error": "Per-pixel MSE of the posterior-mean reconstructions, by class.",
    "progress_strip": "The same 16 prior samples decoded after each epoch.",
    "progress_gif": "The same 16 prior samples decoded after each epoch, animated.",
}


def plot_reconstructions(vae: VAE, test_images: np.ndarray, test_labels: np.ndarray) -> Figure:
    """Draw two test images per class above their reconstructions."""
    chosen = select_per_class(test_labels)
    chosen = chosen[chosen >= 0]
    originals = np.asarray(test_images[chosen])
    reconstructions = keras.ops.convert_to_numpy(vae.reconstruct(originals))
    return reconstructions_figure(originals, reconstructions, np.asarray(test_labels)[chosen])


def plot_samples(generated_samples: np.ndarray, mixture_samples: np.ndarray) -> Figure:
    """Draw 10×10 grids of the prior's and the latent mixture's samples side by side."""
    return sampler_grids_figure(
        {
            "prior": np.asarray(generated_samples[:100]),
            "latent mixture": np.asarray(mixture_samples[:100]),
        }
    )


def plot_class_conditional(class_conditional_samples: np.ndarray) -> Figure:
    """Draw ten samples of each class's latent mixture, one labelled row per class."""
    return class_rows_figure(
        np.asarray(class_conditional_samples[:, :10]),
        CLASS_NAMES,
        "Samples from each class's latent mixture",
    )


def plot_interpolations(
    vae: VAE,
    test_posterior_mean: np.ndarray,
    test_labels: np.ndarray,
    report: ReportParameters,
    seed: int,
) -> Figure:
    """Decode straight latent paths between pairs of test images of different classes."""
    labels = np.asarray(test_labels)
    rng = np.random.default_rng(seed)
    starts, ends = [], []
    while len(starts) < report.interpolation_rows:
        start, end = rng.choice(len(labels), size=2, replace=False)
        if labels[start] != labels[end]:
            starts.append(start)
            ends.append(end)
    weights = np.linspace(0.0, 1.0, report.interpolation_steps)[None, :, None]
    z_start = test_posterior_mean[starts][:, None, :]
    z_end = test_posterior_mean[ends][:, None, :]
    paths = (1 - weights) * z_start + weights * z_end
    decoded = decode_latents(
        vae, paths.reshape(-1, paths.shape[-1]).astype(np.float32), DECODE_BATCH
    )
    rows = decoded.reshape(*paths.shape[:2], *decoded.shape[1:])
    return interpolations_figure(rows, labels[starts], labels[ends])


def plot_latent_map_pca(test_posterior_mean: np.ndarray, test_labels: np.ndarray) -> Figure:
    """Project all test posterior means on their first two principal components."""
    points, used = project_2d(test_posterior_mean, "pca")
    return latent_map_figure(points, np.asarray(test_labels)[used], "pca")


def plot_latent_map_tsne(
    test_posterior_mean: np.ndarray, test_labels: np.ndarray, report: ReportParameters, seed: int
) -> Figure:
    """Embed a seeded subset of the test posterior means with t-SNE (a note when disabled)."""
    if not report.tsne_points:
        figure = Figure(figsize=(6, 1))
        figure.text(0.5, 0.5, "t-SNE is off (report.tsne_points: 0)", ha="center", va="center")
        return figure
    points, used = project_2d(test_posterior_mean, "tsne", report.tsne_points, seed)
    return latent_map_figure(points, np.asarray(test_labels)[used], "tsne")


def plot_latent_traversals(
    vae: VAE, test_posterior_mean: np.ndarray, report: ReportParameters
) -> Figure:
    """Vary the most active latent dimensions one at a time around the first test image."""
    spread = np.var(test_posterior_mean, axis=0)
    dimensions = np.argsort(spread)[::-1][: report.traversal_dimensions]
    values = np.linspace(-3.0, 3.0, report.traversal_steps)
    codes = traversal_codes(test_posterior_mean[0], dimensions, values)
    decoded = decode_latents(
        vae, codes.reshape(-1, codes.shape[-1]).astype(np.float32), DECODE_BATCH
    )
    return latent_traversals_figure(
        decoded.reshape(*codes.shape[:2], *decoded.shape[1:]), dimensions, values
    )


def plot_training_curves(training_history: pd.DataFrame) -> Figure:
    """Draw train and validation loss terms per epoch."""
    return training_curves_figure(training_history)


def plot_per_class_error(metrics: dict[str, Any]) -> Figure:
    """Draw the per-class reconstruction MSE from the metrics."""
    per_class = metrics["reconstruction"]["per_class"]
    return per_class_error_figure(
        {name: values["mse"] for name, values in per_class.items()}, "per-pixel MSE"
    )


def plot_training_progress(training_progress: np.ndarray) -> Figure:
    """Draw the fixed prior samples decoded after each epoch, one row per epoch."""
    return progress_strip_figure(training_progress)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build_report_page(
    metrics: dict[str, Any],
    training_progress: np.ndarray,
    report: ReportParameters,
    **figures: Image.Image,
) -> tuple[str, Image.Image]:
    """Gather metrics and figures (PNG images) in one self-contained page; also return the GIF."""
    gif = progress_gif(training_progress)
    pngs = {name: _png_bytes(image) for name, image in figures.items()}
    page = build_report(metrics, pngs, CAPTIONS, gif, reference=report.textbook_reference)
    return page, Image.open(io.BytesIO(gif))
