"""Two ways of computing the same numbers faster on a CPU, apart from the VAE's story.

- `SingleChannelConv2D`: the decoder's last convolution to one channel, as a depthwise
  convolution and a sum, which oneDNN computes far faster than a one-channel Conv2D.
- `in_shards` / `InShards`: a batch computed as independent slices side by side, so that
  TensorFlow's inter-op pool keeps every core busy (`training.batch_shards`, resolved from the
  hardware by `fashion_vae.runtime.hardware.batch_shards`).

Both compute what the plain form computes, image by image (tests/model/test_vae.py,
tests/pipelines/test_evaluate.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="fashion_vae")
class SingleChannelConv2D(layers.Layer):
    """A stride-1 "same" convolution to one output channel, as Conv2D(1, kernel_size) computes it.

    Same parameters, initialization and outputs as `Conv2D(1, kernel_size, padding="same")`,
    computed as a depthwise convolution followed by a sum over channels: oneDNN's direct
    convolution handles a single output channel poorly on CPU (measured ≈ 5× slower for this
    layer at batch 128), the depthwise form does not.
    """

    def __init__(self, kernel_size: int, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.seed = seed

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        # The kernel has Conv2D(1)'s shape (k, k, channels, 1), so Glorot sees the same fans.
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, input_shape[-1], 1),
            initializer=keras.initializers.GlorotUniform(seed=self.seed),
        )
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        per_channel = ops.depthwise_conv(inputs, self.kernel, strides=1, padding="same")
        return ops.sum(per_channel, axis=-1, keepdims=True) + self.bias

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernel_size": self.kernel_size, "seed": self.seed}


def in_shards(function: Callable[[Any], Any], inputs: Any, shards: int) -> Any:
    """`function` of a batch, computed on `shards` slices of it and concatenated.

    Each slice is an independent branch of the graph, forward and backward, so a runtime with
    one thread per op and several ops at a time runs the slices side by side: data parallelism
    across cores without replicas. Per image the computation is the same; `inputs` and the
    outputs may be nested (lists, dicts) of tensors with the batch first.
    """
    batch = ops.shape(keras.tree.flatten(inputs)[0])[0]

    def split() -> Any:
        bounds = [batch * index // shards for index in range(shards + 1)]
        parts = [
            function(keras.tree.map_structure(lambda tensor, a=start, b=stop: tensor[a:b], inputs))
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        return keras.tree.map_structure(lambda *slices: ops.concatenate(slices, axis=0), *parts)

    # A batch smaller than the shard count (the last of an epoch, say) would leave a slice
    # empty, which convolutions refuse: such a batch is computed whole. The size is a Python
    # number where it is known while tracing (JAX, eager calls), a tensor in TensorFlow graphs.
    if shards == 1 or (isinstance(batch, int) and batch < shards):
        return function(inputs)
    if isinstance(batch, int):
        return split()
    return ops.cond(batch < shards, lambda: function(inputs), split)


class InShards(keras.Model):
    """A model, or a function of a batch of its tensors, run on `shards` slices of each batch
    side by side, for batched inference.

    A wrapper made at run time around a stored model (see `in_shards`); it is never saved.
    """

    def __init__(
        self, inner: keras.Model | Callable[[Any], Any], shards: int, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.inner = inner
        self.shards = shards

    def call(self, inputs: Any) -> Any:
        return in_shards(self.inner, inputs, self.shards)
