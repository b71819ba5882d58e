"""Nodes of the generate pipeline: decode seeded latent samples into images and a PNG grid."""

import logging
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from fashion_vae.model import VAE, decode_latents, sample_prior_codes
from fashion_vae.model.latent_density import density_for
from fashion_vae.parameters import GenerateParameters
from fashion_vae.reporting import image_grid_figure

logger = logging.getLogger(__name__)
# This pipeline's random stream under the one seed, apart from every other node's.
_GENERATE_STREAM = 20
# Decoder calls between two progress lines of the log.
_BATCHES_PER_LOG_LINE = 10


def generate_images(
    vae: VAE, latent_density: dict[str, Any], generate: GenerateParameters, seed: int
) -> np.ndarray:
    """Decode `n_images` seeded codes from the chosen sampler to pixel probabilities."""
    rng = np.random.default_rng((seed, _GENERATE_STREAM))
    if generate.sampler == "prior":
        z = sample_prior_codes(vae, generate.n_images, rng)
    else:
        density = density_for(vae, latent_density)
        z = density.sample(generate.n_images, rng, class_name=generate.class_name)
    images = np.empty((len(z), *vae.decoder.output_shape[1:]), dtype=np.float32)
    chunk = generate.batch_size * _BATCHES_PER_LOG_LINE
    for start in range(0, len(z), chunk):
        images[start : start + chunk] = decode_latents(
            vae, z[start : start + chunk], generate.batch_size
        )
        if len(z) > chunk:
            logger.info("Decoded %d of %d images", min(start + chunk, len(z)), len(z))
    return images


def plot_generated_images(generated_images: np.ndarray, generate: GenerateParameters) -> Figure:
    """Draw the generated images in a grid titled with their sampler and class."""
    source = "the prior" if generate.sampler == "prior" else "the latent mixture"
    what = f"{generate.class_name} images" if generate.class_name else "images"
    shown = generated_images[: generate.grid_images]
    count = (
        f"{len(shown)}"
        if len(shown) == len(generated_images)
        else f"The first {len(shown)} of {len(generated_images):,}"
    )
    return image_grid_figure(shown, f"{count} {what} from {source}", generate.columns)
