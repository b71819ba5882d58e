"""Where a training step's time goes, and how close it is to what this CPU can do at all.

For the textbook script's model and the project's presets, in one process: the median time of a
training step (each at its own batch size and optimizer: the script's Keras Adam, the project's
FusedAdam; the `default` preset also compiled by XLA; a fixed batch, from the second step of
each timed block on), the cost per image
against the textbook script, the multiply-accumulates (MACs) the step needs (counted from the
layer shapes: the forward pass, the weight gradients, and the input gradients of every layer but
the first), and the rate that makes; then a float32 matrix product's rate on the same threads as
the ceiling (and a bfloat16 one's, for the `mixed_bfloat16` row), how many `default` epochs fit
in the time of the `textbook` preset's, and the TensorFlow profiler's ten slowest ops of one
project step. The models alternate block by block so that the machine's noise hits each alike.

Needs the model inputs: `make data && .venv/bin/kedro run --pipelines=data_processing`.
Run: `.venv/bin/python benchmarks/train_step_profile.py [--rounds 6 --steps 30]`.
"""

import argparse
import collections
import glob
import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402
from project import MODEL_INPUT, training_parameters  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402
from train_throughput import TextbookVAE, textbook_decoder, textbook_encoder  # noqa: E402

from fashion_vae.model import build_vae  # noqa: E402
from fashion_vae.model.optimizers import FusedAdam  # noqa: E402
from fashion_vae.model.vae import SingleChannelConv2D  # noqa: E402

TEXTBOOK_BATCH_SIZE = 128


def forward_macs(layer: layers.Layer) -> int:
    """Multiply-accumulates of one image's forward pass through a layer (0 if it has none)."""
    if isinstance(layer, keras.Model):
        return sum(forward_macs(inner) for inner in layer.layers)
    if isinstance(layer, layers.Dense):
        return layer.input.shape[-1] * layer.units
    if isinstance(layer, layers.Conv2DTranspose):  # every input pixel meets the whole kernel
        _, height, width, channels = layer.input.shape
        return height * width * int(np.prod(layer.kernel_size)) * channels * layer.filters
    if isinstance(layer, (layers.Conv2D, SingleChannelConv2D)):
        _, height, width, _ = layer.output.shape
        return height * width * int(np.prod(layer.kernel.shape))
    return 0


def step_macs(model: keras.Model, batch_size: int) -> int:
    """MACs of a training step on one batch: forward, weight and input gradients."""
    encoder, decoder = model.encoder, model.decoder
    first_layer = next(layer for layer in encoder.layers if forward_macs(layer))
    forward = forward_macs(encoder) + forward_macs(decoder)
    # The first layer's input is the data: no gradient is computed for it.
    return batch_size * (3 * forward - forward_macs(first_layer))


class Contender(NamedTuple):
    """A model timed by this script, with what it trains with."""

    model: keras.Model
    batch_size: int
    optimizer: keras.optimizers.Optimizer
    jit_compile: bool = False


class StepTimer(keras.callbacks.Callback):
    """Seconds of each training step, timed between batch ends."""

    def on_epoch_begin(self, epoch, logs=None):
        self.seconds, self._last = [], time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.seconds.append(now - self._last)
        self._last = now


def project_model(preset_name: str, **overrides: object) -> tuple[keras.Model, int]:
    """The preset's model (with `overrides` of its keys), and its batch size."""
    training = training_parameters(preset_name, overrides)
    # Whole batches (`batch_shards` 1), as the script trains: the kernels, not the split.
    return build_vae(training.vae_config, seed=0), training.recipe.batch_size


def matmul_gmacs_per_second(dtype: str, size: int = 2048, repeats: int = 10) -> float:
    """A large matrix product's rate: the most this CPU's kernels reach here in `dtype`."""
    a = tf.cast(tf.random.normal((size, size)), dtype)
    product = tf.function(lambda x: tf.matmul(x, x))
    product(a).numpy()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        product(a).numpy()
        seconds.append(time.perf_counter() - start)
    return size**3 / np.median(seconds) / 1e9


def slowest_ops(model: keras.Model, dataset: tf.data.Dataset, steps: int, count: int = 10) -> list:
    """The TensorFlow profiler's slowest ops of a training step, in ms per step."""
    with tempfile.TemporaryDirectory() as log_dir:
        tf.profiler.experimental.start(log_dir)
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        (trace,) = glob.glob(f"{log_dir}/**/*.xplane.pb", recursive=True)
        space.ParseFromString(Path(trace).read_bytes())
    milliseconds = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                # Op events are "scope/op_name:OpType"; runtime events ("Class::method") and
                # function calls are not ops.
                if ":" in name and "::" not in name and "inference" not in name:
                    milliseconds[name] += event.duration_ps / 1e9 / steps
    return milliseconds.most_common(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="timed blocks per model")
    parser.add_argument("--steps", type=int, default=30, help="steps per block (at least 2)")
    args = parser.parse_args()

    images = np.load(MODEL_INPUT / "train_images.npy", mmap_mode="r")
    keras.utils.set_random_seed(0)
    textbook_preset, textbook_batch = project_model("textbook")
    textbook_bf16, _ = project_model("textbook", dtype_policy="mixed_bfloat16")
    default_preset, default_batch = project_model("default")
    default_with_keras_adam, _ = project_model("default")
    default_with_xla, _ = project_model("default")
    runs = {
        "textbook script": Contender(
            TextbookVAE(textbook_encoder(), textbook_decoder()),
            TEXTBOOK_BATCH_SIZE,
            keras.optimizers.Adam(),
        ),
        "project, textbook preset": Contender(textbook_preset, textbook_batch, FusedAdam()),
        "… in mixed_bfloat16": Contender(textbook_bf16, textbook_batch, FusedAdam()),
        "project, default preset": Contender(default_preset, default_batch, FusedAdam()),
        "… with Keras' Adam": Contender(
            default_with_keras_adam, default_batch, keras.optimizers.Adam()
        ),
        "… compiled by XLA": Contender(
            default_with_xla, default_batch, FusedAdam(), jit_compile=True
        ),
    }
    datasets = {}
    for name, run in runs.items():
        datasets[name] = tf.data.Dataset.from_tensors(
            tf.constant(images[: run.batch_size])
        ).repeat()
        run.model.compile(optimizer=run.optimizer, jit_compile=run.jit_compile)
        run.model.fit(datasets[name], steps_per_epoch=3, epochs=1, verbose=0)  # traces the step

    timer = StepTimer()
    step_seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            run.model.fit(
                datasets[name],
                steps_per_epoch=args.steps,
                epochs=1,
                verbose=0,
                callbacks=[timer],
            )
            step_seconds[name].extend(timer.seconds[1:])
    peak = matmul_gmacs_per_second("float32")
    bfloat16_peak = matmul_gmacs_per_second("bfloat16")

    def seconds_per_image(name: str) -> float:
        return np.median(step_seconds[name]) / runs[name].batch_size

    baseline = seconds_per_image("textbook script")
    print(f"{args.rounds} × {args.steps} steps each, alternating")
    print(
        f"{'':26s} {'batch':>5s} {'ms/step':>8s} {'µs/image':>9s} {'× textbook':>11s} "
        f"{'GMAC/step':>10s} {'GMAC/s':>7s}"
    )
    for name, run in runs.items():
        seconds = np.median(step_seconds[name])
        gmacs = step_macs(run.model, run.batch_size) / 1e9
        print(
            f"{name:26s} {run.batch_size:5d} {seconds * 1e3:8.1f} "
            f"{seconds_per_image(name) * 1e6:9.0f} "
            f"{baseline / seconds_per_image(name):10.2f}× {gmacs:10.2f} {gmacs / seconds:7.0f}"
        )
    print(f"float32 2048² matrix product: {peak:.0f} GMAC/s (the float32 ceiling)")
    print(f"bfloat16 2048² matrix product: {bfloat16_peak:.0f} GMAC/s")
    textbook_macs = step_macs(runs["textbook script"].model, TEXTBOOK_BATCH_SIZE) / 1e9
    needed = textbook_macs / (np.median(step_seconds["textbook script"]) / 1.5)
    print(
        f"1.5× the textbook script's step rate needs {needed:.0f} GMAC/s on the textbook "
        f"architecture: {needed / peak:.0%} of the float32 ceiling"
    )
    default_epochs = 30 * seconds_per_image("project, textbook preset")
    default_epochs /= seconds_per_image("project, default preset")
    print(
        f"the time of 30 textbook-preset epochs trains {default_epochs:.1f} epochs of the "
        "default preset (training steps only)"
    )
    print("\nslowest ops of a project textbook-preset step (ms/step, as the profiler times them):")
    profiled = slowest_ops(textbook_preset, datasets["project, textbook preset"], args.steps)
    for name, milliseconds in profiled:
        print(f"  {milliseconds:6.2f}  {name.split('StatefulPartitionedCall/')[-1]}")


if __name__ == "__main__":
    main()
