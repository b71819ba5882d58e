"""A convolutional variational autoencoder in Keras 3's backend-agnostic API.

The architecture follows Chollet's *Deep Learning with Python* VAE; every size is a
constructor argument so that the `textbook` and `default` presets differ only in config.
The decoder outputs logits: the Bernoulli likelihood is computed from them (stable), while
`decode` and `reconstruct` return probabilities for people and plots.

The prior is N(0, I), or with `pseudo_inputs` K > 0 the VampPrior (Tomczak & Welling, 2018):
the equal mixture of the encoder's posteriors of K learned pseudo-images. Its KL term has no
closed form and is estimated from the sampled code, log q(z|x) − log p(z).

With `ladder_channels` C > 0 a second, spatial latent z₂ sits between the decoder's first level
and the rest (`LadderLatent`), top-down as in the ladder VAE (Sønderby et al., 2016): a prior
p(z₂|z) from the decoder's features, a posterior q(z₂|x, z) that corrects it with the encoder's
features of the same size. z stays "the" latent code: the one the encoder returns, the codes
that are mapped, probed and sampled; decoding a code takes z₂ at its prior mean.

With `autoregressive_channels` C > 0 each pixel's logit also depends on the pixels before it in
raster order (`PixelHead`, PixelVAE's idea): the likelihood is computed in one pass given the
image, and decoding a code draws its pixels one by one; the decoded image is each pixel's
probability given the pixels drawn before it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import keras
from keras import layers, ops

from fashion_vae.parameters import VAEConfig
from fashion_vae.runtime import hardware

from .autoregressive import PixelHead
from .blocks import (
    SERIALIZATION_PACKAGE,
    Sampler,
    glorot,
    initializer_seeds,
    kl_divergence,
    log_normal,
    log_prior,
    reconstruction_loss,
)
from .cpu_speedups import SingleChannelConv2D, in_shards
from .ladder import LadderLatent
from .replicas import batch_slice

IMAGE_SHAPE = (28, 28, 1)


def feature_sides(depth: int) -> list[int]:
    """Image sides after each of `depth` stride-2 "same" convolutions: 28, 14, 7, 4."""
    sides = [IMAGE_SHAPE[0]]
    for _ in range(depth):
        sides.append(-(-sides[-1] // 2))
    return sides


def _output_padding(side: int, target_side: int, kernel_size: int) -> int | None:
    """The output padding that makes a stride-2 "same" transposed convolution reach `target_side`.

    None (Keras' default: twice the side) where that is the target; else the padding for an odd
    side such as 7, which the encoder's "same" convolution rounded up to 4.
    """
    if target_side == 2 * side:
        return None
    # Keras' output length with explicit padding: (side - 1) * 2 + kernel - 2 * (kernel // 2) + p.
    return target_side - (2 * (side - 1) + kernel_size - 2 * (kernel_size // 2))


def _dense_layers(
    x: Any, units: Sequence[int], activation: str, dtype_policy: str, seeds: Iterator[int | None]
) -> Any:
    """`x` through dense layers `dense_0`, `dense_1`, ... of `units` each."""
    for index, width in enumerate(units):
        x = layers.Dense(
            width,
            activation=activation,
            name=f"dense_{index}",
            dtype=dtype_policy,
            kernel_initializer=glorot(seeds),
        )(x)
    return x


def build_encoder(
    latent_dim: int,
    filters: Sequence[int],
    dense_units: Sequence[int],
    *,
    kernel_size: int = 3,
    activation: str = "relu",
    dtype_policy: str = "float32",
    seed: int | None = None,
) -> keras.Model:
    """Build the encoder: stride-2 convolutions, dense layers, then `z_mean`, `z_log_var` heads."""
    seeds = initializer_seeds(seed, "encoder")
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = inputs
    for index, n_filters in enumerate(filters):
        x = layers.Conv2D(
            n_filters,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            name=f"conv_{index}",
            dtype=dtype_policy,
            kernel_initializer=glorot(seeds),
        )(x)
    x = layers.Flatten(name="flatten", dtype=dtype_policy)(x)
    x = _dense_layers(x, dense_units, activation, dtype_policy, seeds)
    heads = {"dtype": "float32"}
    z_mean = layers.Dense(latent_dim, name="z_mean", kernel_initializer=glorot(seeds), **heads)(x)
    z_log_var = layers.Dense(
        latent_dim, name="z_log_var", kernel_initializer=glorot(seeds), **heads
    )(x)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_decoder(
    latent_dim: int,
    filters: Sequence[int],
    dense_units: Sequence[int],
    *,
    kernel_size: int = 3,
    activation: str = "relu",
    dtype_policy: str = "float32",
    ladder: dict[str, Any] | None = None,
    autoregressive: dict[str, Any] | None = None,
    seed: int | None = None,
) -> keras.Model:
    """Build the decoder: dense layers, then stride-2 transposed convolutions, to logits.

    With `ladder` (`LadderLatent`'s arguments) the decoder is three parts called in turn:
    `decoder_top` (z to the first level's features), the `ladder` layer (z₂ at its prior mean)
    and `decoder_bottom` (the rest, to logits); training calls the same parts with z₂ drawn
    from its posterior instead (`VAE`).

    With `autoregressive` (`PixelHead`'s channels and kernel size) the decoder is
    `decoder_features` (z to the last features) and the `pixel_head`, which on the features
    alone draws the image pixel by pixel; training and scoring call the head with the image
    instead (`VAE`)."""
    seeds = initializer_seeds(seed, "decoder")
    # The decoder retraces the encoder's sides backwards (28 → 14 → 7 → 4 for three layers).
    sides = feature_sides(len(filters))
    latent = keras.Input(shape=(latent_dim,), name="z")
    x = _dense_layers(latent, dense_units, activation, dtype_policy, seeds)
    side = sides[-1]
    x = layers.Dense(
        side * side * filters[0],
        activation=activation,
        name="projection",
        dtype=dtype_policy,
        kernel_initializer=glorot(seeds),
    )(x)
    x = layers.Reshape((side, side, filters[0]), name="reshape", dtype=dtype_policy)(x)
    target_sides = reversed(sides[:-1])
    for index, (n_filters, target_side) in enumerate(zip(filters, target_sides, strict=True)):
        x = layers.Conv2DTranspose(
            n_filters,
            kernel_size,
            strides=2,
            padding="same",
            output_padding=_output_padding(side, target_side, kernel_size),
            activation=activation,
            name=f"deconv_{index}",
            dtype=dtype_policy,
            kernel_initializer=glorot(seeds),
        )(x)
        if index == 0 and ladder:
            top = keras.Model(latent, x, name="decoder_top")
            latent = keras.Input(shape=x.shape[1:], name="ladder_features")
            x = latent
        side = target_side
    if autoregressive:
        features = keras.Model(latent, x, name="decoder_features")
        head = PixelHead(
            **autoregressive, logits_kernel_size=kernel_size, seed=next(seeds), name="pixel_head"
        )
        z = keras.Input(shape=features.input.shape[1:], name="z")
        return keras.Model(z, head(features(z)), name="decoder")
    logits = SingleChannelConv2D(kernel_size, seed=next(seeds), name="logits", dtype="float32")(x)
    if not ladder:
        return keras.Model(latent, logits, name="decoder")
    bottom = keras.Model(latent, logits, name="decoder_bottom")
    z = keras.Input(shape=top.input.shape[1:], name="z")
    ladder_layer = LadderLatent(**ladder, features=filters[0], name="ladder", dtype="float32")
    return keras.Model(z, bottom(ladder_layer(top(z))), name="decoder")


def _layer_or_none(model: keras.Model, name: str) -> Any:
    """`model`'s layer of that name, or None."""
    return next((layer for layer in model.layers if layer.name == name), None)


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class VAE(keras.Model):
    """Encoder, sampler and decoder trained on the negative ELBO (optionally beta-weighted KL),
    with the N(0, I) prior or, given `pseudo_inputs`, the VampPrior."""

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        *,
        beta: float = 1.0,
        seed: int | None = None,
        batch_shards: int = 1,
        pseudo_inputs: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.seed = seed
        self.batch_shards = int(batch_shards)
        self.pseudo_inputs = int(pseudo_inputs)
        self.sampler = Sampler(seed=seed, name="sampler")
        # The autoregressive head and the features it reads (`build_decoder`), or None.
        self.pixel_head = _layer_or_none(decoder, "pixel_head")
        if self.pixel_head is not None:
            self.decoder_features = decoder.get_layer("decoder_features")
        # The ladder's parts (`build_decoder`), or None without one.
        self.ladder = _layer_or_none(decoder, "ladder")
        if self.ladder is not None:
            self.decoder_top = decoder.get_layer("decoder_top")
            self.decoder_bottom = decoder.get_layer("decoder_bottom")
            # The encoder, also returning its features at the ladder's side, in one pass.
            context = encoder.get_layer(self.ladder.context_layer).output
            self.encoder_with_context = keras.Model(
                encoder.input, [*encoder.outputs, context], name="encoder_with_context"
            )
        if self.pseudo_inputs:
            # The VampPrior's pseudo-images, learned with the rest; kept in [0, 1] when used.
            # Initialised as in Tomczak & Welling's code: N(0.05, 0.01) per pixel.
            self.pseudo_images = self.add_weight(
                name="pseudo_images",
                shape=(self.pseudo_inputs, *IMAGE_SHAPE),
                initializer=keras.initializers.RandomNormal(0.05, 0.01, seed=seed),
            )
        # The KL weight is a variable, not a constant, so a warm-up callback can change it
        # without retracing the compiled train step.
        self.kl_weight = self.add_weight(
            name="kl_weight",
            shape=(),
            initializer=keras.initializers.Constant(self.beta),
            trainable=False,
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.neg_elbo_tracker = keras.metrics.Mean(name="neg_elbo")

    def build(self, input_shape: Any = None) -> None:
        # The encoder and decoder are functional models, already built at construction.
        self.built = True

    @property
    def latent_dim(self) -> int:
        """Size of the latent space."""
        return int(self.encoder.outputs[0].shape[-1])

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # Listing the trackers lets Keras reset them at each epoch and report them by name.
        return [
            self.loss_tracker,
            self.reconstruction_tracker,
            self.kl_tracker,
            self.neg_elbo_tracker,
        ]

    def call(self, inputs: Any, training: bool = False) -> dict[str, Any]:
        return in_shards(
            lambda images: self._encode_sample_decode(images, training),
            inputs,
            self.batch_shards,
        )

    def _encode_sample_decode(self, images: Any, training: bool) -> dict[str, Any]:
        z_mean, z_log_var, context = self._encode(images, training)
        z = self.sampler(z_mean, z_log_var)
        return {
            "z_mean": z_mean,
            "z_log_var": z_log_var,
            "z": z,
            **self._decode(z, context, training, images),
        }

    @property
    def has_ladder(self) -> bool:
        """Whether the decoder holds a second latent (`LadderLatent`)."""
        return self.ladder is not None

    def _encode(self, images: Any, training: bool) -> tuple[Any, Any, Any]:
        """The posterior's mean and log-variance, and with a ladder the encoder's features that
        its posterior corrects with (else None)."""
        if self.ladder is None:
            return (*self.encoder(images, training=training), None)
        return tuple(self.encoder_with_context(images, training=training))

    def _decode(self, z: Any, context: Any, training: bool, images: Any) -> dict[str, Any]:
        """The logits of `images`; with a ladder, z₂ drawn from q(z₂|x, z) given the encoder's
        `context`, and also z₂'s KL and log p(z₂|z) − log q(z₂|x, z)."""
        if self.pixel_head is not None:
            features = self.decoder_features(z, training=training)
            return {"logits": self.pixel_head(features, images)}
        if context is None:
            return {"logits": self.decoder(z, training=training)}
        lower = self.ladder.posterior(self.decoder_top(z, training=training), context)
        logits = self.decoder_bottom(lower["features"], training=training)
        return {"logits": logits, "lower_kl": lower["kl"], "lower_log_ratio": lower["log_ratio"]}

    def ladder_context(self, images: Any) -> Any:
        """The encoder's features that the ladder's posterior corrects with; None without one
        (and then nothing is encoded)."""
        if self.ladder is None:
            return None
        return self.encoder_with_context(images, training=False)[2]

    def log_likelihood(self, images: Any, z: Any, context: Any = None) -> tuple[Any, Any]:
        """log p(x|z) per image, and 0; with a ladder, log p(x|z, z₂) and log p(z₂|z) −
        log q(z₂|x, z) for one draw z₂ ~ q(z₂|x, z): the exponent of their sum has expectation
        p(x|z), what importance sampling needs. Pass `ladder_context(images)` as `context` to
        score many z of the same images without encoding them again."""
        if context is None:
            context = self.ladder_context(images)
        decoded = self._decode(z, context, training=False, images=images)
        log_likelihood = -reconstruction_loss(images, decoded["logits"])
        return log_likelihood, decoded.get("lower_log_ratio", ops.zeros_like(log_likelihood))

    def prior_components(self) -> tuple[Any, Any] | None:
        """The VampPrior's K components, the posteriors (means, log-variances) of the
        pseudo-images; None for the N(0, I) prior."""
        if not self.pseudo_inputs:
            return None
        return self.encoder(ops.clip(self.pseudo_images, 0.0, 1.0))

    def kl(self, z: Any, z_mean: Any, z_log_var: Any) -> Any:
        """KL(q(z|x) || p(z)) per image: analytic for N(0, I), else from the sampled code."""
        if not self.pseudo_inputs:
            return kl_divergence(z_mean, z_log_var)
        return log_normal(z, z_mean, z_log_var) - log_prior(z, self.prior_components())

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        reconstruction = reconstruction_loss(x, y_pred["logits"])
        kl = self.kl(y_pred["z"], y_pred["z_mean"], y_pred["z_log_var"])
        if "lower_kl" in y_pred:
            kl = kl + y_pred["lower_kl"]
        per_image_loss = reconstruction + self.kl_weight * kl
        # Per-image updates weight a short last batch correctly, like the other trackers.
        self.loss_tracker.update_state(per_image_loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        self.neg_elbo_tracker.update_state(reconstruction + kl)
        # The mean over the global batch: replicas' gradients are summed, so each contributes
        # its images' sum over the global size (the replicas' slices may differ by an image).
        where = batch_slice(ops.shape(per_image_loss)[0])
        if where.replicas == 1:
            return ops.mean(per_image_loss)
        return ops.sum(per_image_loss) / ops.cast(where.global_size, per_image_loss.dtype)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
        # The trackers are updated in compute_loss; nothing is compiled on top of them.
        return {metric.name: metric.result() for metric in self.metrics}

    def encode(self, images: Any) -> tuple[Any, Any]:
        """Return the posterior's mean and log-variance."""
        return self.encoder(images, training=False)

    def decode(self, z: Any) -> Any:
        """Return pixel probabilities for latent codes."""
        if self.pixel_head is not None:
            # A draw is a loop of one step per pixel: compiled, not run eagerly step by step.
            return ops.sigmoid(self.decoder.predict_on_batch(z))
        return ops.sigmoid(self.decoder(z, training=False))

    def reconstruct(self, images: Any) -> Any:
        """Decode the posterior mean: the deterministic reconstruction."""
        z_mean, _ = self.encode(images)
        return self.decode(z_mean)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "seed": self.seed,
            "batch_shards": self.batch_shards,
            "pseudo_inputs": self.pseudo_inputs,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def build_vae(
    config: VAEConfig, *, beta: float = 1.0, seed: int | None = None, batch_shards: int = 1
) -> VAE:
    """Build a VAE from its configuration, the KL weight, the seed and the batch shards.

    A `dtype_policy` of "auto" is resolved for this machine (`fashion_vae.runtime.hardware`).
    """
    layer_sizes = {
        "kernel_size": config.kernel_size,
        "activation": config.activation,
        "dtype_policy": hardware.dtype_policy(config.dtype_policy).value,
    }
    encoder = build_encoder(
        config.latent_dim,
        config.encoder_filters,
        config.encoder_dense_units,
        **layer_sizes,
        seed=seed,
    )
    autoregressive = None
    if config.autoregressive_channels:
        autoregressive = {
            "channels": config.autoregressive_channels,
            "kernel_size": config.autoregressive_kernel_size,
        }
    ladder = None
    if config.ladder_channels:
        # The encoder level whose side the decoder's first level has: 7 × 7 with three levels.
        level = len(config.encoder_filters) - 2
        ladder = {
            "channels": config.ladder_channels,
            "context_layer": f"conv_{level}",
            "context_features": config.encoder_filters[level],
            "seed": seed,
        }
    decoder = build_decoder(
        config.latent_dim,
        config.decoder_filters,
        config.decoder_dense_units,
        **layer_sizes,
        ladder=ladder,
        autoregressive=autoregressive,
        seed=seed,
    )
    vae = VAE(
        encoder,
        decoder,
        beta=beta,
        seed=seed,
        batch_shards=batch_shards,
        pseudo_inputs=config.pseudo_inputs,
        name="vae",
    )
    vae.build((None, *IMAGE_SHAPE))
    return vae
