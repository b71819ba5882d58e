"""Wiring of the evaluate pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from fashion_vae.model import encode_images

from .nodes import (
    assemble_metrics,
    binarized_likelihood,
    feature_learning_metrics,
    generation_metrics,
    latent_metrics,
    likelihood_metrics,
    reconstruction_metrics,
    sample_class_conditional,
    sample_latent_mixture,
    sample_prior,
)

BATCH_SIZE = "params:evaluate.batch_size"


def create_pipeline(**kwargs) -> Pipeline:
    """Evaluate the latest `vae_model` on the test set into the versioned `metrics` JSON."""
    return pipeline(
        [
            node(
                encode_images,
                ["vae_model", "model_input_test", BATCH_SIZE],
                ["test_posterior_mean", "test_posterior_log_var"],
                name="encode_test_set",
            ),
            node(
                likelihood_metrics,
                {
                    "vae": "vae_model",
                    "images": "model_input_test",
                    "z_mean": "test_posterior_mean",
                    "z_log_var": "test_posterior_log_var",
                    "n_samples": "params:evaluate.n_samples",
                    "iwae_samples": "params:evaluate.iwae_samples",
                    "batch_size": BATCH_SIZE,
                    "seed": "params:seed",
                },
                "likelihood_section",
                name="likelihood_metrics",
            ),
            node(
                binarized_likelihood,
                ["vae_model", "model_input_test", "params:evaluate", "params:seed"],
                "binarized_likelihood_section",
                name="binarized_likelihood",
            ),
            node(
                reconstruction_metrics,
                [
                    "vae_model",
                    "model_input_test",
                    "test_labels",
                    "test_posterior_mean",
                    BATCH_SIZE,
                ],
                "reconstruction_section",
                name="reconstruction_metrics",
            ),
            node(
                latent_metrics,
                ["test_posterior_mean", "test_posterior_log_var"],
                "latent_section",
                name="latent_metrics",
            ),
            node(
                feature_learning_metrics,
                {
                    "vae": "vae_model",
                    "train_images": "model_input_train",
                    "train_labels": "model_input_train_labels",
                    "test_z_mean": "test_posterior_mean",
                    "test_labels": "test_labels",
                    "max_train_features": "params:evaluate.max_train_features",
                    "knn_k": "params:evaluate.knn_k",
                    "batch_size": BATCH_SIZE,
                    "seed": "params:seed",
                },
                "feature_learning_section",
                name="feature_learning_metrics",
            ),
            node(
                sample_prior,
                [
                    "vae_model",
                    "model_input_test",
                    "params:evaluate.n_generated",
                    BATCH_SIZE,
                    "params:seed",
                ],
                "generated_samples",
                name="sample_prior",
            ),
            node(
                sample_latent_mixture,
                [
                    "vae_model",
                    "latent_density",
                    "params:evaluate.n_generated",
                    BATCH_SIZE,
                    "params:seed",
                ],
                "mixture_samples",
                name="sample_latent_mixture",
            ),
            node(
                sample_class_conditional,
                {
                    "vae": "vae_model",
                    "latent_density": "latent_density",
                    "n_per_class": "params:evaluate.n_per_class",
                    "batch_size": BATCH_SIZE,
                    "seed": "params:seed",
                    "temperature": "params:evaluate.class_temperature",
                },
                "class_conditional_samples",
                name="sample_class_conditional",
            ),
            node(
                generation_metrics,
                {
                    "classifier": "fashion_classifier",
                    "test_images": "model_input_test",
                    "test_labels": "test_labels",
                    "reference_images": "model_input_validation",
                    "prior_samples": "generated_samples",
                    "mixture_samples": "mixture_samples",
                    "class_conditional_samples": "class_conditional_samples",
                    "latent_density": "latent_density",
                    "batch_size": BATCH_SIZE,
                    "class_temperature": "params:evaluate.class_temperature",
                },
                "generation_section",
                name="generation_metrics",
            ),
            node(
                assemble_metrics,
                {
                    "test_z_mean": "test_posterior_mean",
                    "likelihood": "likelihood_section",
                    "binarized_likelihood": "binarized_likelihood_section",
                    "reconstruction": "reconstruction_section",
                    "latent": "latent_section",
                    "feature_learning": "feature_learning_section",
                    "generation": "generation_section",
                    "evaluate": "params:evaluate",
                    "seed": "params:seed",
                },
                "metrics",
                name="assemble_metrics",
            ),
        ],
        namespace="evaluate",
        prefix_datasets_with_namespace=False,
    )
