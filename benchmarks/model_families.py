"""Two model families beyond the project's VAE, for `preset_ablation.py` to train beside it.

Both keep the `default` preset's encoder, decoder, loss form and recipe, and change what the
decoder's Bernoulli likelihood may depend on; neither is adopted (docs/experiments.md):

- `LocalAutoregressiveVAE`: each pixel's logit also sees the pixels before it in raster order
  within its 3 × 3 neighbourhood (four of them), through one masked linear convolution of the
  image itself (PixelVAE's idea, Gulrajani et al. 2017, at its smallest).
- `TwoLevelVAE`: a second, spatial latent (7 × 7 × `SPATIAL_CHANNELS`) between the decoder's
  7 × 7 features and the rest of it, with a conditional prior p(z₂ | z) and a posterior
  q(z₂ | x, z) that corrects the prior (a ladder, as in Sønderby et al. 2016's LVAE).

The loss stays `VAE`'s: the negative ELBO in nats per image, BCE from logits summed over the
pixels plus the analytic KL terms. Only training and `evaluate` are supported: `decode` still
ignores the additions, so the training-progress images these models record are not samples.
"""

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from fashion_vae.model.vae import VAE

SPATIAL_CHANNELS = 16
SPATIAL_KERNEL = 1


def causal_mask(kernel_size: int) -> np.ndarray:
    """A (k, k, 1, 1) mask of the offsets before the centre in raster order (PixelCNN's type A)."""
    mask = np.zeros((kernel_size, kernel_size, 1, 1), dtype="float32")
    mask[: kernel_size // 2] = 1
    mask[kernel_size // 2, : kernel_size // 2] = 1
    return mask


class LocalAutoregressiveVAE(VAE):
    """`VAE` whose logits add a causal (raster-order) masked 3 × 3 linear convolution of x."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mask = causal_mask(3)
        # Zero weights: training starts from the plain VAE.
        self.neighbour_weights = self.add_weight(
            name="neighbour_weights", shape=self.mask.shape, initializer="zeros"
        )

    def _encode_sample_decode(self, images: Any, training: bool) -> dict[str, Any]:
        outputs = super()._encode_sample_decode(images, training)
        # One input channel: the depthwise form is the convolution, and oneDNN runs it faster.
        neighbours = ops.depthwise_conv(images, self.neighbour_weights * self.mask, padding="same")
        return {**outputs, "logits": outputs["logits"] + neighbours}


class TwoLevelVAE(VAE):
    """`VAE` with a spatial second latent at the decoder's 7 × 7 level (needs three levels)."""

    def __init__(self, encoder: Any, decoder: Any, **kwargs: Any) -> None:
        super().__init__(encoder, decoder, **kwargs)
        encoder_level = encoder.get_layer("conv_1")
        decoder_level = decoder.get_layer("deconv_0")
        self.encoder_with_features = keras.Model(
            encoder.input, [encoder_level.output, *encoder.outputs]
        )
        self.decoder_top = keras.Model(decoder.input, decoder_level.output)
        self.decoder_rest = [decoder.get_layer(name) for name in ("deconv_1", "deconv_2", "logits")]
        side, channels = decoder_level.output.shape[1], decoder_level.output.shape[-1]
        self.spatial_prior = layers.Conv2D(
            2 * SPATIAL_CHANNELS, SPATIAL_KERNEL, padding="same", name="spatial_prior"
        )
        self.spatial_prior.build((None, side, side, channels))
        self.spatial_posterior = layers.Conv2D(
            2 * SPATIAL_CHANNELS, SPATIAL_KERNEL, padding="same", name="spatial_posterior"
        )
        self.spatial_posterior.build((None, side, side, channels + encoder_level.output.shape[-1]))
        self.spatial_projection = layers.Conv2D(
            channels, SPATIAL_KERNEL, padding="same", name="spatial_projection"
        )
        self.spatial_projection.build((None, side, side, SPATIAL_CHANNELS))

    def _encode_sample_decode(self, images: Any, training: bool) -> dict[str, Any]:
        features, z_mean, z_log_var = self.encoder_with_features(images, training=training)
        z = self.sampler(z_mean, z_log_var)
        top = ops.cast(self.decoder_top(z, training=training), "float32")
        prior_mean, prior_log_var = ops.split(self.spatial_prior(top), 2, axis=-1)
        both = ops.concatenate([top, ops.cast(features, "float32")], axis=-1)
        mean_shift, log_var_shift = ops.split(self.spatial_posterior(both), 2, axis=-1)
        posterior_mean = prior_mean + mean_shift
        posterior_log_var = prior_log_var + log_var_shift
        spatial = self.sampler(posterior_mean, posterior_log_var)
        x = top + self.spatial_projection(spatial)
        for layer in self.decoder_rest:
            x = layer(x)
        # KL(q(z₂|x, z) || p(z₂|z)) is unchanged by whitening z₂ with the prior's mean and
        # scale, which turns the prior into N(0, I) and the posterior into N(mean_shift / prior
        # scale, posterior variance / prior variance): so the spatial latent joins the analytic
        # standard-normal KL of `VAE.compute_loss` as extra dimensions, exactly.
        flat = (ops.shape(x)[0], -1)
        whitened_mean = mean_shift * ops.exp(-0.5 * prior_log_var)
        return {
            "logits": x,
            "z_mean": ops.concatenate([z_mean, ops.reshape(whitened_mean, flat)], axis=1),
            "z_log_var": ops.concatenate([z_log_var, ops.reshape(log_var_shift, flat)], axis=1),
        }
