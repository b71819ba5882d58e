"""Nodes of the encode pipeline: a folder of images → 28 × 28 inputs → a table and a grid."""

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image
from scipy import special

from fashion_vae.data.labels import CLASS_NAMES
from fashion_vae.data.user_images import to_model_input
from fashion_vae.evaluation import metrics
from fashion_vae.evaluation.nearest_class import fit_nearest_class, nearest_classes
from fashion_vae.model import (
    VAE,
    check_training_codes,
    decode_logits,
    encode_images,
    reconstruction_loss,
)
from fashion_vae.parameters import EncodeParameters
from fashion_vae.reporting import encodings_figure


def prepare_images(
    user_images: dict[str, Image.Image], encode: EncodeParameters
) -> tuple[np.ndarray, pd.DataFrame]:
    """Each image as a 28 × 28 × 1 model input, and a table of file, size and inversion."""
    names = sorted(user_images)
    inputs, rows = [], []
    for name in names:
        image = user_images[name]
        pixels, inverted = to_model_input(image, encode.invert)
        inputs.append(pixels)
        rows.append(
            {"file": name, "width": image.width, "height": image.height, "inverted": inverted}
        )
    return np.stack(inputs), pd.DataFrame(rows)


def describe_images(
    vae: VAE,
    inputs: np.ndarray,
    image_table: pd.DataFrame,
    *,
    train_images: np.ndarray,
    train_posterior_mean: np.ndarray,
    train_labels: np.ndarray,
    encode: EncodeParameters,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per image: nearest class by k-NN, reconstruction error, posterior mean and log-variance."""
    check_training_codes(vae, train_images, train_posterior_mean, encode.batch_size)
    z_mean, z_log_var = encode_images(vae, inputs, encode.batch_size)
    logits = decode_logits(vae, z_mean, encode.batch_size)
    reconstructions = special.expit(logits).astype(np.float32)
    knn = fit_nearest_class(train_posterior_mean, train_labels, encode.knn_k)
    nearest, votes = nearest_classes(knn, z_mean)
    digits = len(str(z_mean.shape[1] - 1))
    table = image_table.assign(
        nearest_class=[CLASS_NAMES[int(label)] for label in nearest],
        nearest_class_votes=votes,
        reconstruction_nll=keras.ops.convert_to_numpy(reconstruction_loss(inputs, logits)),
        reconstruction_mse=metrics.mse_per_image(inputs, reconstructions),
    )
    codes = pd.DataFrame(
        np.concatenate([z_mean, z_log_var], axis=1),
        columns=[
            f"{kind}_{d:0{digits}d}"
            for kind in ("z_mean", "z_log_var")
            for d in range(z_mean.shape[1])
        ],
    )
    return pd.concat([table.reset_index(drop=True), codes], axis=1), reconstructions


def plot_encodings(
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    encodings: pd.DataFrame,
    encode: EncodeParameters,
) -> Figure:
    """Draw each input above its reconstruction, with its file name and nearest class."""
    return encodings_figure(
        inputs,
        reconstructions,
        list(encodings["file"]),
        list(encodings["nearest_class"]),
        encode.columns,
    )
