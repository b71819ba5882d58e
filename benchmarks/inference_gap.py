"""Where the stored model's nats go: the encoder's posteriors against per-image optimized ones.

The negative ELBO of an image is -log p(x) plus KL(q(z|x) || p(z|x)); the encoder's q can fall
short of the best Gaussian for each image (the amortization gap), and the best diagonal
Gaussian short of the best full-covariance one (the factorization gap). This script fits, for
each of the first `--images` images of the test set and of the training set, a diagonal and a
full-covariance Gaussian posterior by Adam on the ELBO under the stored decoder (started at the
encoder's), and prints the negative ELBO of all three side by side, each from the same number
of posterior samples.

Needs a trained model (`make run`). Run: `.venv/bin/python benchmarks/inference_gap.py
[--images 300] [--steps 1000] [--model data/06_models/vae.keras/<version>/vae.keras]`.
"""

import argparse
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from train_throughput import apply_project_threads  # noqa: E402

from fashion_vae.model import VAE  # noqa: E402
from fashion_vae.model.vae import reconstruction_loss  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL_INPUT = ROOT / "data" / "05_model_input"
CHUNK = 100
EVALUATION_SAMPLES = 50
# The full covariance's strictly lower Cholesky entries are this times their Adam-trained
# parameters: at Adam's full step size they diverged (0.03 was worse than 0.003 here).
OFF_DIAGONAL_SCALE = 0.003


def latest_model() -> Path:
    """The newest stored version of `vae_model`."""
    return sorted((ROOT / "data" / "06_models" / "vae.keras").glob("*/vae.keras"))[-1]


@dataclass
class GaussianPosterior:
    """Per-image q = N(mean, L Lᵀ), L = diag(exp(log_scale)) + the scaled strictly lower part."""

    mean: tf.Variable
    log_scale: tf.Variable
    off_diagonal: tf.Variable

    @classmethod
    def from_encoder(cls, vae: VAE, images: tf.Tensor) -> "GaussianPosterior":
        """The encoder's diagonal posterior, as a starting point."""
        z_mean, z_log_var = vae.encode(images)
        latent_dim = z_mean.shape[1]
        return cls(
            tf.Variable(z_mean),
            tf.Variable(0.5 * z_log_var),
            tf.Variable(tf.zeros((len(images), latent_dim, latent_dim))),
        )

    def cholesky(self) -> tf.Tensor:
        """L, the lower-triangular square root of the covariance."""
        strictly_lower = tf.linalg.band_part(self.off_diagonal, -1, 0) - tf.linalg.band_part(
            self.off_diagonal, 0, 0
        )
        return tf.linalg.diag(tf.exp(self.log_scale)) + OFF_DIAGONAL_SCALE * strictly_lower


def negative_elbo(
    vae: VAE, images: tf.Tensor, posterior: GaussianPosterior, samples: int
) -> tf.Tensor:
    """Per-image negative ELBO under `posterior`, the reconstruction from `samples` draws."""
    cholesky = posterior.cholesky()
    reconstruction = 0.0
    for _ in range(samples):
        epsilon = tf.random.normal(tf.shape(posterior.mean))
        z = posterior.mean + tf.linalg.matvec(cholesky, epsilon)
        reconstruction += reconstruction_loss(images, tf.cast(vae.decoder(z), "float32"))
    # Analytic KL(N(mean, L Lᵀ) || N(0, I)) = (tr(L Lᵀ) + |mean|² - d - log det(L Lᵀ)) / 2.
    kl = 0.5 * (
        tf.reduce_sum(tf.square(cholesky), [1, 2])
        + tf.reduce_sum(tf.square(posterior.mean), 1)
        - tf.cast(tf.shape(posterior.mean)[1], "float32")
        - 2.0 * tf.reduce_sum(posterior.log_scale, 1)
    )
    return reconstruction / samples + kl


def fit_posterior(
    vae: VAE,
    images: tf.Tensor,
    posterior: GaussianPosterior,
    *,
    steps: int,
    learning_rate: float,
    full_covariance: bool,
) -> None:
    """Adam on the summed negative ELBO of `images` (one draw a step), from the posterior given."""
    variables = [posterior.mean, posterior.log_scale]
    if full_covariance:
        variables.append(posterior.off_diagonal)
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step() -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(negative_elbo(vae, images, posterior, 1))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    for _ in range(steps):
        step()


def compare_posteriors(
    vae: VAE, images: np.ndarray, steps: int, learning_rate: float
) -> dict[str, np.ndarray]:
    """Per-image negative ELBO of the encoder's posterior and of the two fitted ones."""
    results: dict[str, list[np.ndarray]] = {"encoder": [], "diagonal": [], "full": []}
    for start in range(0, len(images), CHUNK):
        batch = tf.constant(images[start : start + CHUNK])
        encoder = GaussianPosterior.from_encoder(vae, batch)
        results["encoder"].append(negative_elbo(vae, batch, encoder, EVALUATION_SAMPLES).numpy())
        for name in ("diagonal", "full"):
            posterior = GaussianPosterior.from_encoder(vae, batch)
            fit_posterior(
                vae,
                batch,
                posterior,
                steps=steps,
                learning_rate=learning_rate,
                full_covariance=name == "full",
            )
            results[name].append(negative_elbo(vae, batch, posterior, EVALUATION_SAMPLES).numpy())
    return {name: np.concatenate(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--model", type=Path, default=None)
    arguments = parser.parse_args()
    apply_project_threads()
    model_path = arguments.model or latest_model()
    vae = keras.models.load_model(model_path)
    print(
        f"model {model_path.relative_to(ROOT) if model_path.is_relative_to(ROOT) else model_path}"
    )
    print(
        f"{arguments.images} images a set, {arguments.steps} Adam steps "
        f"at a learning rate of {arguments.learning_rate}"
    )
    print("negative ELBO (nats/image) of the encoder's posterior and of fitted ones:")
    print("set    encoder  diagonal  full covariance  amortization gap  factorization gap")
    for split in ("test", "train"):
        images = np.load(MODEL_INPUT / f"{split}_images.npy")[: arguments.images]
        elbos = compare_posteriors(vae, images, arguments.steps, arguments.learning_rate)
        print(
            f"{split:5}  {elbos['encoder'].mean():7.2f}  {elbos['diagonal'].mean():8.2f}"
            f"  {elbos['full'].mean():15.2f}"
            f"  {statistics.fmean(elbos['encoder'] - elbos['diagonal']):16.2f}"
            f"  {statistics.fmean(elbos['diagonal'] - elbos['full']):17.2f}"
        )


if __name__ == "__main__":
    main()
