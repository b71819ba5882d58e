"""Encoding a request of a few images: `Model.predict` per call against the project's path.

The `default` preset's model (as configured, at its initial weights: the arithmetic is the
trained model's), with the dtype and batch split `auto` resolves on this machine. For requests
of 1, 16 and 256 images it times, alternating, the former path (a sharded wrapper and
`Model.predict`, which builds a data pipeline, at every call) and `encode_images` (one compiled
step per chunk, the wrapper made once), and prints the median milliseconds per request.

    .venv/bin/python benchmarks/inference_latency.py [--repeats 50]
"""

import argparse
import os
import time
from statistics import median

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from project import MODEL_INPUT, apply_project_threads, training_parameters  # noqa: E402

from fashion_vae.model import build_vae, encode_images  # noqa: E402
from fashion_vae.model.cpu_speedups import InShards  # noqa: E402
from fashion_vae.runtime import hardware  # noqa: E402

SIZES = (1, 16, 256)
BATCH_SIZE = 256  # the served model's


def former(vae, images: np.ndarray) -> np.ndarray:
    """The path before: a new wrapper and Keras' predict at every call."""
    return InShards(vae.encoder, vae.batch_shards).predict(images, BATCH_SIZE, verbose=0)[0]


def current(vae, images: np.ndarray) -> np.ndarray:
    """The project's path."""
    return encode_images(vae, images, BATCH_SIZE)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=50, help="requests of each size and path")
    args = parser.parse_args()
    apply_project_threads()
    config = training_parameters("default").vae_config
    shards = hardware.batch_shards("auto").value
    vae = build_vae(config, seed=0, batch_shards=shards)
    dtype = hardware.dtype_policy(config.dtype_policy).value
    print(f"default preset, {dtype} ({config.dtype_policy}), batch_shards {shards}")
    test_images = np.load(MODEL_INPUT / "test_images.npy", mmap_mode="r")
    for size in SIZES:
        images = np.ascontiguousarray(test_images[:size])
        np.testing.assert_allclose(former(vae, images), current(vae, images), atol=1e-4)
        times: dict[str, list[float]] = {"former": [], "current": []}
        for _ in range(args.repeats):
            for name, path in (("former", former), ("current", current)):
                started = time.perf_counter()
                path(vae, images)
                times[name].append(time.perf_counter() - started)
        old, new = median(times["former"]) * 1e3, median(times["current"]) * 1e3
        print(
            f"{size:4d} images: predict per call {old:7.1f} ms, encode_images {new:6.1f} ms "
            f"({old / new:.1f}x); {size / new * 1e3:,.0f} images/s"
        )


if __name__ == "__main__":
    main()
