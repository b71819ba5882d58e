"""A model family beyond the project's VAE, for `preset_ablation.py` to train beside it.

It keeps the `default` preset's encoder, decoder, loss form and recipe, and changes what the
decoder's Bernoulli likelihood may depend on (docs/experiments.md, section 6); its full form,
with a hidden layer and pixels drawn in raster order, is the `autoregressive` preset:

- `LocalAutoregressiveVAE`: each pixel's logit also sees the pixels before it in raster order
  within its 3 × 3 neighbourhood (four of them), through one masked linear convolution of the
  image itself (PixelVAE's idea, Gulrajani et al. 2017, at its smallest).

The loss stays `VAE`'s: the negative ELBO in nats per image, BCE from logits summed over the
pixels plus the analytic KL term. Only training and `evaluate` are supported: `decode` still
ignores the addition, so the training-progress images this model records are not samples.
"""

from typing import Any

from keras import ops

from fashion_vae.model.autoregressive import causal_mask
from fashion_vae.model.vae import VAE


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
