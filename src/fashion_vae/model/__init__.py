"""The VAE model: layers, losses, builders and optimizer, registered for safe `.keras` loading."""

# Importing the package registers every class a saved model may name, the optimizer included.
from .blocks import Sampler, kl_divergence, log_normal, log_prior, reconstruction_loss
from .classifier import FEATURES_LAYER, build_classifier, feature_extractor
from .cpu_speedups import InShards
from .inference import (
    check_images_fit,
    check_training_codes,
    check_vae_fits,
    decode_latents,
    decode_logits,
    encode_images,
    prior_components,
    sample_prior_codes,
)
from .optimizers import FusedAdam
from .vae import VAE, build_vae

__all__ = [
    "FEATURES_LAYER",
    "VAE",
    "FusedAdam",
    "InShards",
    "Sampler",
    "build_classifier",
    "build_vae",
    "check_images_fit",
    "check_training_codes",
    "check_vae_fits",
    "decode_latents",
    "decode_logits",
    "encode_images",
    "feature_extractor",
    "kl_divergence",
    "log_normal",
    "log_prior",
    "prior_components",
    "reconstruction_loss",
    "sample_prior_codes",
]
