"""Wiring of the generate pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import generate_images, plot_generated_images


def create_pipeline(**kwargs) -> Pipeline:
    """Generate images with the latest (or pinned) `vae_model` and `latent_density`."""
    return pipeline(
        [
            node(
                generate_images,
                ["vae_model", "latent_density", "params:generate", "params:seed"],
                "generated_images",
                name="generate_images",
            ),
            node(
                plot_generated_images,
                ["generated_images", "params:generate"],
                "generated_images_grid",
                name="plot_generated_images",
            ),
        ],
        namespace="generate",
        prefix_datasets_with_namespace=False,
    )
