"""Training throughput: the textbook Keras script against the project's training node.

All train the textbook architecture (latent_dim 200, batch 128, Adam 1e-3) on the same subset of
the real model inputs: the script, with TensorFlow's default threads as the book runs it; the
project's node with the `textbook` preset as configured (float32, `batch_shards` and
`tensorflow_threads` as `kedro run` reads them); the same with `dtype_policy: mixed_bfloat16`;
and the node with TensorFlow's default threads and unsplit batches, to show what the split buys.
Each run is a fresh process (thread pools are fixed per process), the contenders in rotating order
so that the machine's noise hits all alike. Prints images/s per epoch (the first epoch, which
traces the graph, is left out), the median of each, each project variant's ratio to the script
within each repeat and the median of those ratios, and the test negative ELBO each model reached
(single posterior sample, nats).

Needs the model inputs: `make data && .venv/bin/kedro run --pipelines=data_processing`.
Run: `.venv/bin/python benchmarks/train_throughput.py [--images 20000 --epochs 3 --repeats 2]`.
"""

import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402
from project import (  # noqa: E402
    MODEL_INPUT,
    alternating_arguments,
    alternating_runs,
    apply_project_threads,
    fixed_length_training,
)

from fashion_vae.pipelines.training.nodes import train_vae  # noqa: E402

LATENT_DIM = 200
BATCH_SIZE = 128


# ---- (a) The textbook way: Chollet's VAE, custom train_step with tf.GradientTape. ----------
class Sampler(layers.Layer):
    def call(self, z_mean, z_log_var):
        epsilon = tf.random.normal(shape=tf.shape(z_mean))
        return z_mean + tf.exp(0.5 * z_log_var) * epsilon


def textbook_encoder() -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs, [layers.Dense(LATENT_DIM)(x), layers.Dense(LATENT_DIM)(x)])


def textbook_decoder() -> keras.Model:
    latent_inputs = keras.Input(shape=(LATENT_DIM,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, outputs)


class TextbookVAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.sampler = encoder, decoder, Sampler()
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(data)
            reconstruction = self.decoder(self.sampler(z_mean, z_log_var))
            reconstruction_loss = tf.reduce_mean(
                tf.reduce_sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            # The book takes reduce_mean over batch and latent axes; summing over the latent
            # axis makes this the negative ELBO that the project optimizes too.
            kl = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            total_loss = reconstruction_loss + tf.reduce_mean(tf.reduce_sum(kl, axis=1))
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        return {"total_loss": self.total_loss_tracker.result()}


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def train_textbook(train: np.ndarray, epochs: int, seed: int) -> tuple[list[float], keras.Model]:
    keras.utils.set_random_seed(seed)
    vae = TextbookVAE(textbook_encoder(), textbook_decoder())
    vae.compile(optimizer=keras.optimizers.Adam())
    timer = EpochTimer()
    vae.fit(train, epochs=epochs, batch_size=BATCH_SIZE, callbacks=[timer], verbose=0)
    return [len(train) / s for s in timer.seconds], vae


def textbook_test_neg_elbo(vae: TextbookVAE, test: np.ndarray) -> float:
    z_mean, z_log_var = vae.encoder.predict(test, batch_size=1000, verbose=0)
    z = z_mean + np.exp(0.5 * z_log_var) * np.random.default_rng(0).standard_normal(z_mean.shape)
    probabilities = vae.decoder.predict(z, batch_size=1000, verbose=0).astype(np.float64)
    probabilities = np.clip(probabilities, 1e-7, 1 - 1e-7)  # as Keras' BCE clips
    bce = -(test * np.log(probabilities) + (1 - test) * np.log(1 - probabilities))
    kl = -0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)).sum(axis=1)
    return float((bce.reshape(len(test), -1).sum(axis=1) + kl).mean())


# ---- (b) The project's training node, with the textbook preset. -----------------------------
# name → (dtype policy of the hidden layers, whether the project's threads and batch split apply)
PROJECT_VARIANTS = {
    "project": ("float32", True),
    "project_bf16": ("mixed_bfloat16", True),
    "project_unsplit": ("float32", False),
}


def train_project(
    train: np.ndarray, validation: np.ndarray, epochs: int, seed: int, variant: str
) -> tuple[list[float], keras.Model]:
    dtype_policy, as_configured = PROJECT_VARIANTS[variant]
    if as_configured:
        apply_project_threads()
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        training = fixed_length_training(
            "textbook",
            epochs,
            checkpoint_dir,
            {"dtype_policy": dtype_policy},
            **({} if as_configured else {"batch_shards": 1}),
        )
        vae, history, _ = train_vae(train, validation, training, seed)
    return list(history["images_per_second"]), vae


def project_test_neg_elbo(vae: keras.Model, test: np.ndarray) -> float:
    return float(vae.evaluate(test, batch_size=1000, verbose=0, return_dict=True)["neg_elbo"])


def run_one(name: str, images: int, epochs: int, seed: int) -> dict:
    """Train one contender in this process: its images/s per epoch and test negative ELBO."""
    train = np.load(MODEL_INPUT / "train_images.npy")[:images]
    test = np.load(MODEL_INPUT / "test_images.npy")
    if name == "textbook":
        per_epoch, vae = train_textbook(train, epochs, seed)
        return {"per_epoch": per_epoch, "elbo": textbook_test_neg_elbo(vae, test)}
    validation = np.load(MODEL_INPUT / "validation_images.npy")[:1000]
    per_epoch, vae = train_project(train, validation, epochs, seed, name)
    return {"per_epoch": per_epoch, "elbo": project_test_neg_elbo(vae, test)}


def main() -> None:
    args = alternating_arguments(__doc__.splitlines()[0], images=20000, repeats=2)
    if args.run:
        print(json.dumps(run_one(args.run, args.images, args.epochs, args.seed)))
        return

    names = ["textbook", *PROJECT_VARIANTS]
    rates, ratios, results = alternating_runs(
        __file__, names, args, lambda result: f"test negative ELBO {result['elbo']:.1f}"
    )
    elbos = {name: [result["elbo"] for result in runs] for name, runs in results.items()}

    print(f"\n{args.images:,} images × {args.epochs} epochs × {args.repeats} runs each")
    print(f"{'':15s} {'median images/s':>16s} {'test -ELBO (nats)':>18s}")
    for name, name_rates in rates.items():
        print(f"{name:15s} {np.median(name_rates):16,.0f} {np.median(elbos[name]):18.1f}")
    for name, name_ratios in ratios.items():
        print(
            f"throughput ratio {name} / textbook: {np.median(name_ratios):.2f}× "
            f"(median of the repeats' {', '.join(f'{r:.2f}' for r in name_ratios)})"
        )
    print(
        "(project images/s include its validation pass, progress samples and checkpoint each "
        "epoch; the textbook script does none of these)"
    )


if __name__ == "__main__":
    main()
