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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from fashion_vae.parameters import VAEConfig
from fashion_vae.runtime import hardware

from .cpu_speedups import SingleChannelConv2D, in_shards
from .replicas import batch_slice

IMAGE_SHAPE = (28, 28, 1)
SERIALIZATION_PACKAGE = "fashion_vae"
_LOG_2PI = math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class Sampler(layers.Layer):
    """Draws z = mean + exp(log_var / 2) * eps (the reparameterization trick), seeded.

    Under data-parallel training every replica draws the noise of the whole global batch from
    the same seed and keeps its own rows, so each image gets the noise it would get on one
    device and a run's numbers do not depend on the device count.
    """

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, z_mean: Any, z_log_var: Any) -> Any:
        rows = ops.shape(z_mean)[0]
        where = batch_slice(rows)
        if where.replicas == 1:
            epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        else:
            every = keras.random.normal(
                (where.global_size, ops.shape(z_mean)[1]), seed=self.seed_generator
            )
            epsilon = ops.slice(every, (where.start, 0), (rows, ops.shape(z_mean)[1]))
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


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


def initializer_seeds(seed: int | None, part: str) -> Iterator[int | None]:
    """Seeds for the initial weights of one part of the model, derived from the model's seed.

    Keras draws the seed of an unseeded initializer from Python's global `random`, which other
    threads of the process (a Dask worker's, a server's) draw from too: with explicit seeds the
    initial weights depend on the model's seed alone. None (no seed): Keras draws them.
    """
    if seed is None:
        yield from itertools.repeat(None)
    sequence = np.random.SeedSequence([seed, *part.encode()])
    while True:
        yield int(sequence.spawn(1)[0].generate_state(1)[0])


def glorot(seeds: Iterator[int | None]) -> keras.initializers.Initializer:
    """Keras' default kernel initializer, with the next seed."""
    return keras.initializers.GlorotUniform(seed=next(seeds))


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
    seed: int | None = None,
) -> keras.Model:
    """Build the decoder: dense layers, then stride-2 transposed convolutions, to logits; with
    `ladder` (`LadderLatent`'s arguments), that second latent after the first of them."""
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
            x = LadderLatent(**ladder, features=n_filters, name="ladder", dtype="float32")(x)
        side = target_side
    logits = SingleChannelConv2D(kernel_size, seed=next(seeds), name="logits", dtype="float32")(x)
    return keras.Model(latent, logits, name="decoder")


def reconstruction_loss(images: Any, logits: Any) -> Any:
    """Bernoulli negative log-likelihood per image in nats: BCE from logits summed over pixels."""
    pixel_losses = ops.binary_crossentropy(images, logits, from_logits=True)
    return ops.sum(pixel_losses, axis=tuple(range(1, len(pixel_losses.shape))))


def kl_divergence(z_mean: Any, z_log_var: Any) -> Any:
    """Analytic KL(q(z|x) || N(0, I)) per image in nats."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)


def log_normal(z: Any, mean: Any, log_var: Any) -> Any:
    """Log density of diagonal Gaussians, summed over the last axis (leading axes broadcast)."""
    # exp(-log_var) rather than dividing by exp(log_var): no overflow for very negative log_var.
    return -0.5 * ops.sum(_LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)


def log_prior(z: Any, components: tuple[Any, Any] | None) -> Any:
    """log p(z) per code: N(0, I) without components, else the equal mixture of the diagonal
    Gaussians `components` = (K × D means, K × D log-variances)."""
    if components is None:
        return -0.5 * ops.sum(_LOG_2PI + ops.square(z), axis=-1)
    means, log_vars = components
    per_component = log_normal(z[:, None, :], means[None], log_vars[None])
    return ops.logsumexp(per_component, axis=1) - math.log(means.shape[0])


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
        ladders = [layer for layer in decoder.layers if isinstance(layer, LadderLatent)]
        if ladders:
            # The encoder, also returning its features at the ladder's side, in one pass.
            context = encoder.get_layer(ladders[0].context_layer).output
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
            **self._decode(z, context, training),
        }

    @property
    def has_ladder(self) -> bool:
        """Whether the decoder holds a second latent (`LadderLatent`)."""
        return hasattr(self, "encoder_with_context")

    def _encode(self, images: Any, training: bool) -> tuple[Any, Any, Any]:
        """The posterior's mean and log-variance, and with a ladder the encoder's features that
        its posterior corrects with (else None)."""
        if not self.has_ladder:
            return (*self.encoder(images, training=training), None)
        return tuple(self.encoder_with_context(images, training=training))

    def _decode(self, z: Any, context: Any, training: bool) -> dict[str, Any]:
        """The logits; with a ladder, z₂ drawn from q(z₂|x, z) given the encoder's `context`,
        and also z₂'s KL and log p(z₂|z) − log q(z₂|x, z)."""
        if context is None:
            return {"logits": self.decoder(z, training=training)}
        x, lower = z, {}
        for layer in self.decoder.layers[1:]:  # after the input; the decoder is a chain
            if isinstance(layer, LadderLatent):
                lower = layer.posterior(x, context)
                x = lower.pop("features")
            else:
                x = layer(x, training=training)
        return {"logits": x, "lower_kl": lower["kl"], "lower_log_ratio": lower["log_ratio"]}

    def ladder_context(self, images: Any) -> Any:
        """The encoder's features that the ladder's posterior corrects with; None without one
        (and then nothing is encoded)."""
        if not self.has_ladder:
            return None
        return self.encoder_with_context(images, training=False)[2]

    def log_likelihood(self, images: Any, z: Any, context: Any = None) -> tuple[Any, Any]:
        """log p(x|z) per image, and 0; with a ladder, log p(x|z, z₂) and log p(z₂|z) −
        log q(z₂|x, z) for one draw z₂ ~ q(z₂|x, z): the exponent of their sum has expectation
        p(x|z), what importance sampling needs. Pass `ladder_context(images)` as `context` to
        score many z of the same images without encoding them again."""
        if context is None:
            context = self.ladder_context(images)
        decoded = self._decode(z, context, training=False)
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
