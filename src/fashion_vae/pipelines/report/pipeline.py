"""Wiring of the report pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import (
    build_report_page,
    plot_class_conditional,
    plot_interpolations,
    plot_latent_map_pca,
    plot_latent_map_tsne,
    plot_latent_traversals,
    plot_per_class_error,
    plot_reconstructions,
    plot_samples,
    plot_training_curves,
    plot_training_progress,
)

# Each figure is saved as a versioned PNG (`<name>_figure`), which the report page reads back.
FIGURES = [
    "reconstructions",
    "samples",
    "class_samples",
    "interpolations",
    "latent_map_pca",
    "latent_map_tsne",
    "latent_traversals",
    "training_curves",
    "per_class_error",
    "progress_strip",
]


def create_pipeline(**kwargs) -> Pipeline:
    """Draw every figure of the stored model and gather them in the report page."""
    return pipeline(
        [
            node(
                plot_reconstructions,
                ["vae_model", "model_input_test", "test_labels"],
                "reconstructions_figure",
                name="plot_reconstructions",
            ),
            node(
                plot_samples,
                ["generated_samples", "mixture_samples"],
                "samples_figure",
                name="plot_samples",
            ),
            node(
                plot_class_conditional,
                "class_conditional_samples",
                "class_samples_figure",
                name="plot_class_conditional",
            ),
            node(
                plot_interpolations,
                ["vae_model", "test_posterior_mean", "test_labels", "params:report", "params:seed"],
                "interpolations_figure",
                name="plot_interpolations",
            ),
            node(
                plot_latent_map_pca,
                ["test_posterior_mean", "test_labels"],
                "latent_map_pca_figure",
                name="plot_latent_map_pca",
            ),
            node(
                plot_latent_map_tsne,
                ["test_posterior_mean", "test_labels", "params:report", "params:seed"],
                "latent_map_tsne_figure",
                name="plot_latent_map_tsne",
            ),
            node(
                plot_latent_traversals,
                ["vae_model", "test_posterior_mean", "params:report"],
                "latent_traversals_figure",
                name="plot_latent_traversals",
            ),
            node(
                plot_training_curves,
                "training_history",
                "training_curves_figure",
                name="plot_training_curves",
            ),
            node(
                plot_per_class_error,
                "metrics",
                "per_class_error_figure",
                name="plot_per_class_error",
            ),
            node(
                plot_training_progress,
                "training_progress",
                "progress_strip_figure",
                name="plot_training_progress",
            ),
            node(
                build_report_page,
                {
                    "metrics": "metrics",
                    "training_progress": "training_progress",
                    "report": "params:report",
                    **{name: f"{name}_figure" for name in FIGURES},
                },
                ["report_page", "training_progress_gif"],
                name="build_report_page",
            ),
        ],
        namespace="report",
        prefix_datasets_with_namespace=False,
    )
