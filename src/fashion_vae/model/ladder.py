"""The ladder's second latent: a spatial z₂ between the decoder's first level and the rest,
top-down as in the ladder VAE (Sønderby et al., 2016)."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from .blocks import (
    SERIALIZATION_PACKAGE,
    Sampler,
    glorot,
    initializer_seeds,
    kl_divergence,
    log_normal,
)


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class LadderLatent(layers.Layer):
    """The second latent z₂ of a ladder: side × side × `channels` Gaussians on the decoder's
    features h (1 × 1 convolutions, float32 like the other latent heads).

    Called on h alone it returns h + W z₂ with z₂ at the mean of its prior p(z₂|h): the
    deterministic decoder. `posterior(h, context)` draws z₂ from q(z₂|x, z), whose mean and
    log-variance are the prior's plus a correction computed from h and `context`, the encoder's
    features of the same side, and returns h + W z₂ with the KL term and the log-ratio.
    """

    def __init__(
        self,
        channels: int,
        features: int,
        context_layer: str,
        context_features: int,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channels = channels
        self.features = features
        self.context_layer = context_layer
        self.context_features = context_features
        self.seed = seed
        # Names unique in the decoder: a functional model may be built through `posterior`.
        conv = {"kernel_size": 1, "dtype": self.dtype_policy}
        seeds = initializer_seeds(seed, "ladder")
        self.prior = layers.Conv2D(
            2 * channels, name="ladder_prior", kernel_initializer=glorot(seeds), **conv
        )
        self.correction = layers.Conv2D(
            2 * channels, name="ladder_correction", kernel_initializer=glorot(seeds), **conv
        )
        self.projection = layers.Conv2D(
            features, name="ladder_projection", kernel_initializer=glorot(seeds), **conv
        )
        self.sampler = Sampler(seed=seed, name="ladder_sampler")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        side = input_shape[1]
        self.prior.build(input_shape)
        self.correction.build((None, side, side, self.features + self.context_features))
        self.projection.build((None, side, side, self.channels))
        self.built = True

    def call(self, features: Any) -> Any:
        features = ops.cast(features, self.compute_dtype)
        prior_mean, _ = ops.split(self.prior(features), 2, axis=-1)
        return features + self.projection(prior_mean)

    def posterior(self, features: Any, context: Any) -> dict[str, Any]:
        """h + W z₂ for z₂ ~ q(z₂|x, z); the analytic KL(q || p) and log p(z₂) − log q(z₂)."""
        features = ops.cast(features, self.compute_dtype)
        both = ops.concatenate([features, ops.cast(context, self.compute_dtype)], axis=-1)
        prior_mean, prior_log_var = ops.split(self.prior(features), 2, axis=-1)
        mean_shift, log_var_shift = ops.split(self.correction(both), 2, axis=-1)
        flat = (ops.shape(features)[0], -1)
        prior_mean, prior_log_var = ops.reshape(prior_mean, flat), ops.reshape(prior_log_var, flat)
        mean_shift, log_var_shift = ops.reshape(mean_shift, flat), ops.reshape(log_var_shift, flat)
        mean, log_var = prior_mean + mean_shift, prior_log_var + log_var_shift
        z2 = self.sampler(mean, log_var)
        # KL(q || p) is unchanged by whitening z₂ with the prior's mean and scale, which makes
        # the prior N(0, I) and the posterior N(shift / prior scale, ratio of variances).
        kl = kl_divergence(mean_shift * ops.exp(-0.5 * prior_log_var), log_var_shift)
        log_ratio = log_normal(z2, prior_mean, prior_log_var) - log_normal(z2, mean, log_var)
        spatial = ops.reshape(z2, (*flat[:1], *features.shape[1:3], self.channels))
        return {"features": features + self.projection(spatial), "kl": kl, "log_ratio": log_ratio}

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "channels": self.channels,
            "features": self.features,
            "context_layer": self.context_layer,
            "context_features": self.context_features,
            "seed": self.seed,
        }
