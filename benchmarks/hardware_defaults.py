"""What `auto` chooses on this machine, and what the choice is worth against the alternatives.

Prints the CPU's model, the flags that decide the dtype (avx2, avx512f, avx512_bf16, amx_bf16),
the cores this process may use and the GPUs; what `auto` resolves to (dtype policy, batch
shards, TensorFlow's threads); then the training step time of the `default` preset through the
training node for each contender, each run a fresh process (thread pools are fixed per
process), in rotating order, with each contender's ratio to the first per repeat:

- `auto`: everything as `kedro run` resolves it here;
- `float32`, `mixed_bfloat16`: that dtype policy, the rest auto;
- `whole`: whole batches (batch_shards 1) on TensorFlow's default threads (one per core each);
- `halves`: two half-batches side by side (batch_shards 2, two ops at a time, cores / 2 threads
  per op), whatever the core count.

A step's time is an epoch's wall time over its steps: it includes the node's per-epoch
checkpoint, progress samples and a 64-image validation pass. The first epoch, which traces the
graph, is left out. `--cores N` runs everything on the first N cores this process may use (as
`taskset` would), to measure the rule on fewer cores. Last, the wall time of `kedro --help`
against a bare `python -c "import kedro"`.

Needs the model inputs: `make data && .venv/bin/kedro run --pipelines=data_processing`.
Run: `.venv/bin/python benchmarks/hardware_defaults.py [--images 6400 --epochs 2 --repeats 2]
[--cores 1] [--contenders auto,halves]`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from project import MODEL_INPUT, ROOT, fixed_length_training, rotated  # noqa: E402

from fashion_vae.runtime import hardware  # noqa: E402
from fashion_vae.runtime.tensorflow_threads import apply_tensorflow_threads  # noqa: E402

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
CONTENDERS = ("auto", "float32", "mixed_bfloat16", "whole", "halves")
VALIDATION_IMAGES = 64


def settings(name: str, cores: int) -> tuple[dict, dict]:
    """(preset and training changes, tensorflow_threads) of a contender."""
    if name in ("float32", "mixed_bfloat16"):
        return {"preset": {"dtype_policy": name}}, {"intra_op": "auto", "inter_op": "auto"}
    if name == "whole":
        return {"batch_shards": 1}, {"intra_op": None, "inter_op": None}
    if name == "halves":
        return {"batch_shards": 2}, {"intra_op": max(1, cores // 2), "inter_op": 2}
    return {}, {"intra_op": "auto", "inter_op": "auto"}


def run_one(name: str, images: int, epochs: int, seed: int) -> dict:
    """Train one contender in this (fresh) process: its seconds per step, epoch by epoch."""
    changes, threads = settings(name, hardware.usable_cores())
    apply_tensorflow_threads(threads)  # before TensorFlow starts, as the run's hook does
    from fashion_vae.pipelines.training.nodes import train_vae  # noqa: PLC0415

    train = np.load(MODEL_INPUT / "train_images.npy")[:images]
    validation = np.load(MODEL_INPUT / "validation_images.npy")[:VALIDATION_IMAGES]
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        training = fixed_length_training(
            "default",
            epochs,
            checkpoint_dir,
            changes.get("preset"),
            **{key: value for key, value in changes.items() if key != "preset"},
        )
        _, history, _ = train_vae(train, validation, training, seed)
    steps = -(-images // training.recipe.batch_size)
    return {"step_ms": [1000 * seconds / steps for seconds in history["seconds"]]}


def wall_seconds(command: list[str], repeats: int = 3) -> float:
    """The median wall time of a command, run `repeats` times."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def describe_machine() -> None:
    cpu = hardware.this_cpu()
    flags = ", ".join(f"{flag} {'yes' if flag in cpu.flags else 'no'}" for flag in FLAGS)
    print(f"CPU: {cpu.model} ({cpu.architecture}); {flags}; {cpu.cores} usable cores")
    gpus = hardware.gpu_capabilities()
    print(f"GPUs (compute capability): {', '.join(f'{a}.{b}' for a, b in gpus) or 'none'}")
    intra, inter = hardware.tensorflow_threads("auto", "auto")
    for label, choice in (
        ("dtype_policy", hardware.dtype_policy("auto")),
        ("batch_shards", hardware.batch_shards("auto")),
        ("tensorflow_threads.intra_op", intra),
        ("tensorflow_threads.inter_op", inter),
    ):
        print(f"auto: {choice.describe(label)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6400, help="training images per run")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (first: warm-up)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each, alternating")
    parser.add_argument("--cores", type=int, help="use only the first N usable cores")
    parser.add_argument(
        "--contenders",
        default="auto,float32,mixed_bfloat16,whole",
        help=f"comma-separated, the first is the reference; of {', '.join(CONTENDERS)}",
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)  # a worker: one contender, one seed
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cores:
        # Inherited by the workers, as `taskset` would pin them.
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    if args.run:
        print(json.dumps(run_one(args.run, args.images, args.epochs, args.seed)))
        return

    describe_machine()
    names = args.contenders.split(",")
    unknown = sorted(set(names) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contenders {unknown}; expected some of {', '.join(CONTENDERS)}")
    step_ms: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names[1:]}
    for repeat in range(args.repeats):
        for name in rotated(names, repeat):
            worker = [sys.executable, __file__, "--run", name, "--seed", str(repeat)]
            worker += ["--images", str(args.images), "--epochs", str(args.epochs)]
            output = subprocess.run(worker, capture_output=True, text=True, check=True).stdout
            timed = json.loads(output.strip().splitlines()[-1])["step_ms"][1:]
            step_ms[name].append(statistics.median(timed))
            print(f"run {repeat + 1} {name:15s}: {step_ms[name][-1]:.1f} ms per step", flush=True)
        for name, name_ratios in ratios.items():
            name_ratios.append(step_ms[name][-1] / step_ms[names[0]][-1])

    print(f"\n`default` preset, batch 64, {args.images:,} images × {args.epochs} epochs")
    for name, times in step_ms.items():
        repeats = ", ".join(f"{value:.1f}" for value in times)
        print(f"{name:15s} {statistics.median(times):7.1f} ms per step (runs: {repeats})")
    for name, name_ratios in ratios.items():
        print(
            f"step time {name} / {names[0]}: {statistics.median(name_ratios):.2f}× "
            f"(repeats {', '.join(f'{r:.2f}' for r in name_ratios)})"
        )

    kedro = str(Path(sys.executable).with_name("kedro"))
    help_seconds = wall_seconds([kedro, "--help"])
    import_seconds = wall_seconds([sys.executable, "-c", "import kedro"])
    print(
        f"\n`kedro --help` {help_seconds:.2f} s; `python -c 'import kedro'` {import_seconds:.2f} s "
        f"({help_seconds / import_seconds:.1f}×; medians of 3)"
    )


if __name__ == "__main__":
    main()
