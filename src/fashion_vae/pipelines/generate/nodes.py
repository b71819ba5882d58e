"""Nodes of the generate pipeline: decode seeded latent samples into images and a PNG grid."""

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from fashion_vae.model import VAE, decode_latents
from fashion_vae.model.latent_density import density_for
from fashion_vae.parameters import GenerateParameters
from fashion_vae.reporting import image_grid_figure

# This pipeline's random stream under the one seed, apart from every other node's.
_GENERATE_STREAM = 20


def generate_images(
    vae: VAE, latent_density: dict[str, Any], generate: GenerateParameters, seed: int
) -> np.ndarray:
    """Decode `n_images` seeded codes from the chosen sampler to pixel probabilities."""
    rng = np.random.default_rng((seed, _GENERATE_STREAM))
    if generate.sampler == "prior":
        z = rng.standard_normal((generate.n_images, vae.latent_dim), dtype=np.float32)
    else:
        density = density_for(vae, latent_density)
        z = density.sample(generate.n_images, rng, class_name=generate.class_name)
    return decode_latents(vae, z, generate.batch_size)


def plot_generated_images(generated_images: np.ndarray, generate: GenerateParameters) -> Figure:
    """Draw the generated images in a grid titled with their sampler and class."""
    source = "the prior N(0, I)" if generate.sampler == "prior" else "the latent mixture"
    what = f"{generate.class_name} images" if generate.class_name else "images"
    title = f"{len(generated_images)} {what} from {source}"
    return image_grid_figure(generated_images, title, generate.columns)
