"""An autoregressive decoder head: each pixel's Bernoulli logit depends on the code z and on
the pixels before it in raster order (PixelVAE's idea, Gulrajani et al., 2017).

The pixels reach the head through one masked convolution (PixelCNN's mask "A": rows above the
centre, and the centre row left of it), added to a 1 × 1 projection of the decoder's features,
then a per-pixel hidden layer and a residual logit on top of the decoder's own. Training and
scoring see the whole image at once (teacher forcing): one pass gives every pixel's logit given
the pixels before it, which is what log p(x|z) needs. Decoding a code draws the pixels one at a
time in raster order, every image of a batch at each step, each pixel from the head's
probability given the pixels drawn before it; only the kernel's window of earlier pixels is
read at each step, so a draw costs 784 small steps, not 784 passes over the image.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from .blocks import SERIALIZATION_PACKAGE, glorot, initializer_seeds
from .cpu_speedups import SingleChannelConv2D


def causal_offsets(kernel_size: int) -> list[tuple[int, int]]:
    """(row, column) offsets, from the centre, of the pixels a masked kernel sees: the rows
    above, and the centre row left of the centre."""
    half = kernel_size // 2
    return [
        (row, column)
        for row in range(-half, 1)
        for column in range(-half, half + 1)
        if row < 0 or column < 0
    ]


def causal_mask(kernel_size: int) -> np.ndarray:
    """A (k, k, 1, 1) mask: 1 where the kernel sees an earlier pixel, 0 at the centre and after."""
    mask = np.zeros((kernel_size, kernel_size, 1, 1), dtype=np.float32)
    half = kernel_size // 2
    for row, column in causal_offsets(kernel_size):
        mask[half + row, half + column] = 1.0
    return mask


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class MaskedConv2D(layers.Layer):
    """A stride-1 "same" convolution of a one-channel image that sees, at each pixel, only the
    pixels before it in raster order."""

    def __init__(self, filters: int, kernel_size: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size is {kernel_size}; expected an odd size of 3 or more")
        self.filters = filters
        self.kernel_size = kernel_size
        self.seed = seed
        self.mask = causal_mask(kernel_size)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, 1, self.filters),
            initializer=keras.initializers.GlorotUniform(seed=self.seed),
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, images: Any) -> Any:
        kernel = self.kernel * ops.cast(self.mask, self.kernel.dtype)
        return ops.conv(images, kernel, strides=1, padding="same") + self.bias

    def causal_kernel(self) -> Any:
        """The kernel's weights for the pixels it sees, in `causal_offsets` order: (n, filters)."""
        side, half = self.kernel_size, self.kernel_size // 2
        seen = [(half + row) * side + half + column for row, column in causal_offsets(side)]
        return ops.take(ops.reshape(self.kernel, (side * side, self.filters)), seen, axis=0)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "seed": self.seed,
        }


def neighbour_indices(side: int, kernel_size: int) -> np.ndarray:
    """For each pixel of a side × side image in raster order, the flat indices of the pixels its
    masked kernel sees (`causal_offsets` order); side² stands for a pixel outside the image."""
    outside = side * side
    table = np.full((side * side, len(causal_offsets(kernel_size))), outside, dtype=np.int32)
    for row in range(side):
        for column in range(side):
            for k, (dr, dc) in enumerate(causal_offsets(kernel_size)):
                r, c = row + dr, column + dc
                if 0 <= r < side and 0 <= c < side:
                    table[row * side + column, k] = r * side + c
    return table


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class PixelHead(layers.Layer):
    """Pixel logits from the decoder's last features and the pixels before each pixel.

    `call(features, images)` gives every pixel's logit given `images`' earlier pixels (training,
    scoring). `call(features)` draws images in raster order and returns the logits each pixel
    was drawn with: the decoded image of a code is then its per-pixel probability given the
    pixels drawn before it. The draw's uniform numbers are one field per model, fixed by `seed`
    and shared by every image, so a code decodes to the same image in any batch.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        logits_kernel_size: int,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channels = channels
        self.kernel_size = kernel_size
        self.logits_kernel_size = logits_kernel_size
        self.seed = seed
        seeds = initializer_seeds(seed, "pixel_head")
        # The decoder's own logits, as without a head: the head adds to them.
        self.decoder_logits = SingleChannelConv2D(
            logits_kernel_size, seed=next(seeds), name="decoder_logits", dtype="float32"
        )
        self.context = layers.Conv2D(
            channels, 1, name="context", dtype="float32", kernel_initializer=glorot(seeds)
        )
        self.neighbours = MaskedConv2D(
            channels, kernel_size, seed=next(seeds), name="neighbours", dtype="float32"
        )
        self.hidden = layers.Conv2D(
            channels,
            1,
            activation="relu",
            name="hidden",
            dtype="float32",
            kernel_initializer=glorot(seeds),
        )
        # Zero at first: training starts from the decoder's logits alone.
        self.residual = layers.Conv2D(
            1, 1, name="residual", dtype="float32", kernel_initializer="zeros"
        )

    def build(self, features_shape: tuple[int | None, ...], images_shape: Any = None) -> None:
        side = features_shape[1]
        self.decoder_logits.build(features_shape)
        self.context.build(features_shape)
        self.neighbours.build((None, side, side, 1))
        self.hidden.build((None, side, side, self.channels))
        self.residual.build((None, side, side, self.channels))
        self.neighbour_table = neighbour_indices(side, self.kernel_size)
        self.noise = np.random.default_rng(self.seed).random(side * side, dtype=np.float32)

    def call(self, features: Any, images: Any = None) -> Any:
        features = ops.cast(features, "float32")
        if images is None:
            return self.draw(features)
        hidden = ops.relu(self.context(features) + self.neighbours(ops.cast(images, "float32")))
        return self.decoder_logits(features) + self.residual(self.hidden(hidden))

    def draw(self, features: Any) -> Any:
        """Draw images pixel by pixel in raster order; return each pixel's logit as drawn."""
        batch, side = ops.shape(features)[0], features.shape[1]
        pixels = side * side
        decoder_logits = ops.reshape(self.decoder_logits(features), (batch, pixels))
        context = ops.reshape(self.context(features), (batch, pixels, self.channels))
        table = ops.convert_to_tensor(self.neighbour_table)
        noise = ops.convert_to_tensor(self.noise)
        seen = self.neighbours.causal_kernel()
        hidden_kernel = ops.reshape(self.hidden.kernel, (self.channels, self.channels))
        residual_kernel = ops.reshape(self.residual.kernel, (self.channels,))

        def step(index: Any, state: tuple[Any, Any]) -> tuple[Any, Any]:
            # `canvas` holds the pixels drawn so far and, last, a 0 for pixels off the image.
            canvas, logits = state
            window = ops.take(canvas, ops.take(table, index, axis=0), axis=1)
            hidden = ops.relu(
                ops.matmul(window, seen) + self.neighbours.bias + ops.take(context, index, axis=1)
            )
            hidden = ops.relu(ops.matmul(hidden, hidden_kernel) + self.hidden.bias)
            logit = (
                ops.matmul(hidden, residual_kernel)
                + self.residual.bias[0]
                + ops.take(decoder_logits, index, axis=1)
            )
            pixel = ops.cast(ops.take(noise, index) < ops.sigmoid(logit), "float32")
            canvas = canvas + ops.one_hot(index, pixels + 1)[None, :] * pixel[:, None]
            logits = logits + ops.one_hot(index, pixels)[None, :] * logit[:, None]
            return canvas, logits

        start = (ops.zeros((batch, pixels + 1)), ops.zeros((batch, pixels)))
        _, logits = ops.fori_loop(0, pixels, step, start)
        return ops.reshape(logits, (batch, side, side, 1))

    def compute_output_spec(self, features: Any, images: Any = None) -> keras.KerasTensor:
        return keras.KerasTensor((*features.shape[:-1], 1), dtype="float32")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "channels": self.channels,
            "kernel_size": self.kernel_size,
            "logits_kernel_size": self.logits_kernel_size,
            "seed": self.seed,
        }
