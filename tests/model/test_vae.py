"""The VAE model: shapes, the loss against a hand computation, and safe save/load."""

import random
from pathlib import Path

import keras
import numpy as np
import pytest
from configs import vae_config

from fashion_vae.model import build_classifier, build_vae, kl_divergence, reconstruction_loss
from fashion_vae.model.cpu_speedups import SingleChannelConv2D
from fashion_vae.model.vae import feature_sides
from fashion_vae.parameters import VAEConfig


def textbook(latent_dim: int, **changes: object) -> VAEConfig:
    """The book's architecture (conf/base's textbook preset) with this latent size."""
    return vae_config(latent_dim, **changes)


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)


@pytest.mark.parametrize("latent_dim", [1, 16, 200])
def test_encoder_and_decoder_shapes(latent_dim: int, images: np.ndarray) -> None:
    vae = build_vae(textbook(latent_dim), seed=0)
    z_mean, z_log_var = vae.encode(images)
    assert z_mean.shape == z_log_var.shape == (8, latent_dim)
    decoded = keras.ops.convert_to_numpy(vae.decode(z_mean))
    assert decoded.shape == (8, 28, 28, 1)
    assert decoded.dtype == np.float32
    assert decoded.min() >= 0 and decoded.max() <= 1
    outputs = vae(images)
    assert outputs["logits"].shape == (8, 28, 28, 1)


@pytest.mark.parametrize("kernel_size", [3, 4])
def test_three_stride_layers_go_down_to_4_pixels_and_back_up_to_28(
    kernel_size: int, images: np.ndarray
) -> None:
    assert feature_sides(3) == [28, 14, 7, 4]
    vae = build_vae(
        textbook(
            4,
            encoder_filters=[8, 8, 8],
            encoder_dense_units=[],
            decoder_filters=[8, 8, 8],
            kernel_size=kernel_size,
        )
    )
    assert vae.encoder.get_layer("conv_2").output.shape == (None, 4, 4, 8)
    # The first transposed convolution pads its output to 7, the side the encoder rounded up.
    sides = [vae.decoder.get_layer(f"deconv_{i}").output.shape[1] for i in range(3)]
    assert sides == [7, 14, 28]
    assert vae(images)["logits"].shape == (8, 28, 28, 1)


def _bernoulli_nll(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    probabilities = 1 / (1 + np.exp(-logits.astype(np.float64)))
    nll = -(x * np.log(probabilities) + (1 - x) * np.log(1 - probabilities))
    return nll.reshape(len(x), -1).sum(axis=1)


def test_reconstruction_loss_matches_hand_computation(images: np.ndarray) -> None:
    logits = np.random.default_rng(1).normal(size=images.shape).astype(np.float32)
    loss = keras.ops.convert_to_numpy(reconstruction_loss(images, logits))
    np.testing.assert_allclose(loss, _bernoulli_nll(images, logits), rtol=1e-5)


def test_reconstruction_loss_is_stable_for_extreme_logits() -> None:
    x = np.array([[[[1.0]], [[0.0]]]], dtype=np.float32)
    logits = np.array([[[[200.0]], [[-200.0]]]], dtype=np.float32)
    loss = keras.ops.convert_to_numpy(reconstruction_loss(x, logits))
    assert np.isfinite(loss).all() and loss[0] == pytest.approx(0.0, abs=1e-6)
    # Saturated and wrong: log σ(−1000) underflows in a naive formula; here each of the nine
    # pixels costs exactly 1000 nats.
    wrong = keras.ops.convert_to_numpy(
        reconstruction_loss(
            np.zeros((2, 3, 3, 1), np.float32), np.full((2, 3, 3, 1), 1e3, np.float32)
        )
    )
    np.testing.assert_allclose(wrong, [9000.0, 9000.0], rtol=1e-6)


def test_kl_is_zero_when_posterior_is_prior_and_matches_formula() -> None:
    zeros = np.zeros((3, 5), dtype=np.float32)
    assert np.allclose(keras.ops.convert_to_numpy(kl_divergence(zeros, zeros)), 0.0)
    mean = np.array([[1.0, -2.0]], dtype=np.float32)
    log_var = np.array([[np.log(4.0), 0.0]], dtype=np.float32)
    # KL(N(m, s²) || N(0, 1)) = (s² + m² − 1 − log s²) / 2, per dimension.
    expected = 0.5 * ((4 + 1 - 1 - np.log(4.0)) + (1 + 4 - 1 - 0))
    assert keras.ops.convert_to_numpy(kl_divergence(mean, log_var))[0] == pytest.approx(expected)


def test_compute_loss_is_the_negative_elbo(images: np.ndarray) -> None:
    vae = build_vae(textbook(4), seed=0)
    outputs = vae(images)
    loss = float(vae.compute_loss(x=images, y_pred=outputs))
    z_mean, z_log_var = (keras.ops.convert_to_numpy(outputs[k]) for k in ("z_mean", "z_log_var"))
    kl = 0.5 * (np.exp(z_log_var) + z_mean**2 - 1 - z_log_var).sum(axis=1)
    expected = (_bernoulli_nll(images, keras.ops.convert_to_numpy(outputs["logits"])) + kl).mean()
    assert loss == pytest.approx(expected, rel=1e-5)
    metrics = {m.name: float(m.result()) for m in vae.metrics}
    assert metrics["neg_elbo"] == pytest.approx(expected, rel=1e-5)
    assert metrics["kl"] == pytest.approx(kl.mean(), rel=1e-4)


def test_beta_weights_only_the_kl_term(images: np.ndarray) -> None:
    vae = build_vae(textbook(4), beta=0.0, seed=0)
    outputs = vae(images)
    loss = float(vae.compute_loss(x=images, y_pred=outputs))
    reconstruction = _bernoulli_nll(images, keras.ops.convert_to_numpy(outputs["logits"]))
    assert loss == pytest.approx(reconstruction.mean(), rel=1e-5)


def test_saved_model_loads_in_safe_mode_with_identical_outputs(
    tmp_path: Path, images: np.ndarray
) -> None:
    vae = build_vae(textbook(8), beta=0.5, seed=3)
    path = tmp_path / "vae.keras"
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(vae)
    assert loaded.latent_dim == 8 and loaded.beta == 0.5
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.reconstruct(images)),
        keras.ops.convert_to_numpy(vae.reconstruct(images)),
    )


def test_sampling_is_reproducible_under_a_seed(images: np.ndarray) -> None:
    first = build_vae(textbook(4), seed=7)
    second = build_vae(textbook(4), seed=7)
    second.set_weights(first.get_weights())
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(first(images)["logits"]),
        keras.ops.convert_to_numpy(second(images)["logits"]),
    )


@pytest.mark.parametrize("ladder_channels", [0, 2])
def test_initial_weights_depend_on_the_seed_alone(ladder_channels: int) -> None:
    # Keras seeds an unseeded initializer from Python's global `random`, which other threads
    # of the process (a Dask worker's event loop, say) draw from at any time.
    config = vae_config(
        4,
        encoder_filters=[4, 8, 8],
        encoder_dense_units=[8],
        decoder_filters=[8, 8, 4],
        decoder_dense_units=[8],
        ladder_channels=ladder_channels,
    )
    weights = []
    for global_seed in (1, 2):
        random.seed(global_seed)
        weights.append([w.numpy() for w in build_vae(config, seed=5).weights])
    assert len(weights[0]) == len(weights[1])
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)
    other = [w.numpy() for w in build_vae(config, seed=6).weights]
    assert not all(np.array_equal(a, b) for a, b in zip(weights[0], other, strict=True))


def test_the_classifiers_initial_weights_depend_on_the_seed_alone() -> None:
    weights = []
    for global_seed in (1, 2):
        random.seed(global_seed)
        classifier = build_classifier([4, 8], dense_units=8, dropout=0.5, seed=5)
        weights.append([w.numpy() for w in classifier.weights])
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)


def test_single_channel_conv_equals_conv2d_with_the_same_weights() -> None:
    features = np.random.default_rng(2).normal(size=(4, 28, 28, 32)).astype(np.float32)
    fast = SingleChannelConv2D(3)
    reference = keras.layers.Conv2D(1, 3, padding="same")
    fast.build(features.shape)
    reference.build(features.shape)
    assert [w.shape for w in fast.get_weights()] == [w.shape for w in reference.get_weights()]
    reference.set_weights(fast.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fast(features)),
        keras.ops.convert_to_numpy(reference(features)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_mixed_bfloat16_computes_hidden_layers_in_bfloat16_and_the_loss_in_float32(
    tmp_path: Path, images: np.ndarray
) -> None:
    vae = build_vae(textbook(8, dtype_policy="mixed_bfloat16"), seed=3)
    hidden = [vae.encoder.get_layer("conv_1"), vae.decoder.get_layer("deconv_1")]
    assert [layer.compute_dtype for layer in hidden] == ["bfloat16", "bfloat16"]
    # Weights stay float32 (Adam updates them there); heads, logits and loss compute in float32.
    assert {w.dtype for w in vae.weights} == {"float32"}
    outputs = vae(images)
    loss = vae.compute_loss(images, None, outputs)
    dtypes = {keras.backend.standardize_dtype(x.dtype) for x in [*outputs.values(), loss]}
    assert dtypes == {"float32"}
    # Same weights in float32: the bfloat16 model rounds, but computes the same function.
    reference = build_vae(textbook(8), seed=3)
    reference.set_weights(vae.get_weights())
    z_mean = keras.ops.convert_to_numpy(vae.encode(images)[0])
    reference_z_mean = keras.ops.convert_to_numpy(reference.encode(images)[0])
    assert not np.array_equal(z_mean, reference_z_mean)
    np.testing.assert_allclose(z_mean, reference_z_mean, atol=0.05)
    path = tmp_path / "vae.keras"
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.decoder.get_layer("deconv_1").compute_dtype == "bfloat16"
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.reconstruct(images)),
        keras.ops.convert_to_numpy(vae.reconstruct(images)),
    )


@pytest.mark.parametrize("batch_size", [8, 7, 1])
def test_batch_shards_compute_each_image_as_the_whole_batch_does(
    batch_size: int, images: np.ndarray, tmp_path: Path
) -> None:
    sharded = build_vae(textbook(4), seed=3, batch_shards=3)
    whole = build_vae(textbook(4), seed=3)
    whole.set_weights(sharded.get_weights())
    batch = images[:batch_size]
    outputs, reference = sharded(batch), whole(batch)
    # The encoder is deterministic, so each image's posterior must not depend on the split; a
    # batch of one (fewer images than shards) is computed whole.
    for key in ("z_mean", "z_log_var"):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(outputs[key]),
            keras.ops.convert_to_numpy(reference[key]),
            rtol=1e-6,
            atol=1e-6,
        )
    assert outputs["logits"].shape == (batch_size, 28, 28, 1)
    path = tmp_path / "vae.keras"
    sharded.save(path)
    assert keras.saving.load_model(path, safe_mode=True).batch_shards == 3
