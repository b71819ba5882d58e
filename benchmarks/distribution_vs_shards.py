"""tf.distribute's MirroredStrategy on two logical CPU devices against `training.batch_shards`.

Both spread one training step over this machine's two cores. `batch_shards` (the project's own)
cuts each batch into independent graph branches that TensorFlow's two inter-op threads run side
by side; MirroredStrategy (Keras' standard engine) keeps a copy of the model on each of two
logical CPU devices, gives each half the batch and sums the gradients. Every contender trains
the `default` preset as configured (batch 64, `mixed_bfloat16`, one thread per op and two ops
at a time) through the project's training node, each run a fresh process (thread pools and
logical devices are fixed per process), in rotating order:

- `shards`: as `kedro run` trains today: batch_shards 2, steps_per_execution 20, one device;
- `shards_spe1`: the same with steps_per_execution 1, which the strategy is limited to (Keras
  3.15's multi-step loop fails under MirroredStrategy, keras-team/keras#19246);
- `mirrored`: two logical CPU devices, distribution mirrored over both, batch_shards 1;
- `whole`: one device, whole batches (batch_shards 1), steps_per_execution 20.

Prints images/s per epoch (the first, which traces the graph, is left out), the median of
each contender, and each contender's ratio to `shards` within each repeat with their median.

Needs the model inputs: `make data && .venv/bin/kedro run --pipelines=data_processing`.
Run: `.venv/bin/python benchmarks/distribution_vs_shards.py` (defaults: `--images 10000
--epochs 3 --repeats 3`).
"""

import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from project import alternating_arguments, alternating_runs  # noqa: E402

# name → (logical CPU devices, training parameters changed from the configured ones)
CONTENDERS = {
    "shards": (1, {}),
    "shards_spe1": (1, {"steps_per_execution": 1}),
    "mirrored": (
        2,
        {
            "batch_shards": 1,
            "distribution": {"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]},
        },
    ),
    "whole": (1, {"batch_shards": 1}),
}


def run_one(name: str, images: int, epochs: int, seed: int) -> dict:
    """Train one contender in this process; its images/s per epoch and replica count."""
    import tensorflow as tf  # noqa: PLC0415 - logical devices must be set before TensorFlow starts

    devices, changes = CONTENDERS[name]
    if devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * devices
        )
    from project import MODEL_INPUT, apply_project_threads, fixed_length_training  # noqa: PLC0415

    from fashion_vae.pipelines.training.nodes import train_vae  # noqa: PLC0415

    apply_project_threads()
    train = np.load(MODEL_INPUT / "train_images.npy")[:images]
    validation = np.load(MODEL_INPUT / "validation_images.npy")[:1000]
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        training = fixed_length_training("default", epochs, checkpoint_dir, **changes)
        vae, history, _ = train_vae(train, validation, training, seed)
    return {
        "per_epoch": list(history["images_per_second"]),
        "replicas": int(vae.distribute_strategy.num_replicas_in_sync),
        "val_neg_elbo": float(history["val_neg_elbo"].iloc[-1]),
    }


def main() -> None:
    args = alternating_arguments(__doc__.splitlines()[0], images=10000, repeats=3)
    if args.run:
        print(json.dumps(run_one(args.run, args.images, args.epochs, args.seed)))
        return

    names = list(CONTENDERS)
    rates, ratios, _ = alternating_runs(
        __file__,
        names,
        args,
        lambda result: (
            f"{result['replicas']} replica(s), validation -ELBO {result['val_neg_elbo']:.1f}"
        ),
    )

    print(f"\n{args.images:,} images × {args.epochs} epochs × {args.repeats} runs each")
    for name, name_rates in rates.items():
        print(f"{name:12s} median {np.median(name_rates):7,.0f} images/s")
    for name, name_ratios in ratios.items():
        print(
            f"ratio {name} / shards: {np.median(name_ratios):.3f} "
            f"(the repeats' {', '.join(f'{r:.3f}' for r in name_ratios)})"
        )


if __name__ == "__main__":
    main()
