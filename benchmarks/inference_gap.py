"""Where the stored model's nats go: the encoder's posteriors against per-image optimized ones.

The negative ELBO of an image is -log p(x) plus KL(q(z|x) || p(z|x)); the encoder's q can fall
short of the best Gaussian for each image (the amortization gap), and the best diagonal
Gaussian short of the best full-covariance one (the factorization gap). This script fits, for
each of the first `--images` images of the test set and of the training set, a diagonal and a
full-covariance Gaussian posterior by Adam on the ELBO under the stored decoder (started at the
encoder's), and prints the negative ELBO of all three side by side, each from the same number
of posterior samples.

Needs a trained model (`make run`). Run from the project root (the catalog's paths are relative):
`.venv/bin/python benchmarks/inference_gap.py [--images 300] [--steps 1000]
[--load-version 2026-11-30T09.39.31.699Z]` (default: the latest version of `vae_model`, as
`kedro run` loads it).
"""

import argparse
import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from project import MODEL_INPUT, apply_project_threads, load_vae  # noqa: E402

from fashion_vae.model import VAE  # noqa: E402
from fashion_vae.model.blocks import kl_divergence, reconstruction_loss  # noqa: E402

CHUNK = 100
EVALUATION_SAMPLES = 50
# The full covariance's strictly lower Cholesky entries are this times their Adam-trained
# parameters: at Adam's full step size they diverged (0.03 was worse than 0.003 here).
OFF_DIAGONAL_SCALE = 0.003


@dataclass
class GaussianPosterior:
    """Per-image q = N(mean, L Lᵀ), L = diag(exp(log_scale)) + the scaled strictly lower part.

    `off_diagonal` is None for a diagonal posterior, which then samples and computes its KL
    without any matrix.
    """

    mean: tf.Variable
    log_scale: tf.Variable
    off_diagonal: tf.Variable | None

    @classmethod
    def from_encoder(
        cls, z_mean: tf.Tensor, z_log_var: tf.Tensor, *, full_covariance: bool
    ) -> "GaussianPosterior":
        """The encoder's diagonal posterior, as a starting point."""
        images, latent_dim = z_mean.shape
        off_diagonal = (
            tf.Variable(tf.zeros((images, latent_dim, latent_dim))) if full_covariance else None
        )
        return cls(tf.Variable(z_mean), tf.Variable(0.5 * z_log_var), off_diagonal)

    @property
    def variables(self) -> list[tf.Variable]:
        """What a fit trains."""
        return [v for v in (self.mean, self.log_scale, self.off_diagonal) if v is not None]

    def strictly_lower(self) -> tf.Tensor:
        """L's part below the diagonal."""
        lower = tf.linalg.band_part(self.off_diagonal, -1, 0)
        return OFF_DIAGONAL_SCALE * (lower - tf.linalg.band_part(lower, 0, 0))

    def sample(self) -> tf.Tensor:
        """One draw z = mean + L epsilon per image."""
        epsilon = tf.random.normal(tf.shape(self.mean))
        z = self.mean + tf.exp(self.log_scale) * epsilon
        if self.off_diagonal is not None:
            z += tf.linalg.matvec(self.strictly_lower(), epsilon)
        return z

    def kl(self) -> tf.Tensor:
        """Analytic KL(q || N(0, I)) per image."""
        # KL = (tr(L Lᵀ) + |mean|² - d - log det(L Lᵀ)) / 2; tr(L Lᵀ) sums the squares of L's
        # entries, so the strictly lower part only adds its squares to the diagonal KL.
        kl = kl_divergence(self.mean, 2.0 * self.log_scale)
        if self.off_diagonal is not None:
            kl += 0.5 * tf.reduce_sum(tf.square(self.strictly_lower()), [1, 2])
        return kl


def negative_elbo(
    vae: VAE, images: tf.Tensor, posterior: GaussianPosterior, samples: int
) -> tf.Tensor:
    """Per-image negative ELBO under `posterior`, the reconstruction from `samples` draws."""
    reconstruction = 0.0
    for _ in range(samples):
        reconstruction += reconstruction_loss(images, vae.decoder(posterior.sample()))
    return reconstruction / samples + posterior.kl()


def fit_posterior(
    vae: VAE, images: tf.Tensor, posterior: GaussianPosterior, *, steps: int, learning_rate: float
) -> None:
    """Adam on the summed negative ELBO of `images` (one draw a step), from the posterior given."""
    variables = posterior.variables
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
        # Each posterior gets its own variables, all starting from one pass of the encoder.
        z_mean, z_log_var = vae.encode(batch)
        encoder = GaussianPosterior.from_encoder(z_mean, z_log_var, full_covariance=False)
        results["encoder"].append(negative_elbo(vae, batch, encoder, EVALUATION_SAMPLES).numpy())
        for name in ("diagonal", "full"):
            posterior = GaussianPosterior.from_encoder(
                z_mean, z_log_var, full_covariance=name == "full"
            )
            fit_posterior(vae, batch, posterior, steps=steps, learning_rate=learning_rate)
            results[name].append(negative_elbo(vae, batch, posterior, EVALUATION_SAMPLES).numpy())
    return {name: np.concatenate(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--load-version", help="a version of vae_model (default: the latest)")
    arguments = parser.parse_args()
    apply_project_threads()
    vae = load_vae(arguments.load_version)
    print(f"vae_model version {arguments.load_version or 'latest'}")
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
            f"  {(elbos['encoder'] - elbos['diagonal']).mean():16.2f}"
            f"  {(elbos['diagonal'] - elbos['full']).mean():17.2f}"
        )


if __name__ == "__main__":
    main()
