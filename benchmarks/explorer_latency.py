"""How fast the explorer answers: one decode, and one slider move's handler, in milliseconds.

Loads a stored VAE (`--model PATH` to a `.keras` file, e.g. the newest
`data/06_models/vae.keras/<version>/vae.keras`) or, without one, builds a fresh model of the
`default` preset's architecture (`conf/base`); timing does not depend on the weights. Prints the
CPU (`lscpu`'s model name), then the median and 95th percentile of

- a decode: one code through the decoder, called directly as the explorer calls it;
- a slider move: the explorer's handler end to end (slider values → code → decoded image →
  zoomed 8-bit picture), over `--sliders` principal directions (the `default` model's 17 active
  units) of stand-in codes.

Gradio's own work around a handler (the request, the PNG it encodes) is not included.
Run: `.venv/bin/python benchmarks/explorer_latency.py [--model PATH] [--repeats 200]`.
"""

import argparse
import os
import subprocess
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from project import training_parameters  # noqa: E402

from fashion_vae.explorer.latent_space import decode, draw, fit_directions  # noqa: E402
from fashion_vae.model import build_vae  # noqa: E402
from fashion_vae.model.on_this_machine import adapt_to_this_machine  # noqa: E402
from fashion_vae.parameters import ExploreParameters  # noqa: E402

WARM_UP = 10


def cpu_model() -> str:
    """`lscpu`'s model name, or what it printed instead."""
    output = subprocess.run(["lscpu"], check=False, capture_output=True, text=True).stdout
    names = [line.split(":", 1)[1].strip() for line in output.splitlines() if "Model name" in line]
    return names[0] if names else "unknown (no lscpu model name)"


def load_vae(path: str | None) -> keras.Model:
    """The stored VAE at `path`, as the catalog loads it, or a fresh `default` one."""
    if path:
        return adapt_to_this_machine(keras.saving.load_model(path, safe_mode=True))
    return adapt_to_this_machine(build_vae(training_parameters("default").vae_config, seed=0))


def milliseconds(
    calls: dict[str, Callable[[int], object]], repeats: int
) -> dict[str, tuple[float, float]]:
    """Median and 95th percentile of each `call(i)`'s wall time, after a warm-up; the calls
    alternate, so that neither has the machine to itself more than the other."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(WARM_UP + repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call(i)
            if i >= WARM_UP:
                times[name].append(1000 * (time.perf_counter() - start))
    return {name: (float(np.median(t)), float(np.percentile(t, 95))) for name, t in times.items()}


def main() -> None:
    """Print the CPU and the two latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a stored .keras VAE (default: a fresh `default` one)")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sliders", type=int, default=17)
    args = parser.parse_args()
    vae = load_vae(args.model)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((args.repeats + WARM_UP, vae.latent_dim)).astype(np.float32)
    directions = fit_directions(rng.standard_normal((2000, vae.latent_dim)), args.sliders)
    values = rng.uniform(-3, 3, (args.repeats + WARM_UP, directions.count))
    residual = np.zeros(vae.latent_dim)
    zoom = ExploreParameters().zoom
    print(f"CPU: {cpu_model()}; model: {args.model or 'a fresh default-preset VAE'}")
    print(f"latent_dim {vae.latent_dim}, {directions.count} sliders, {args.repeats} repeats")
    calls = {
        "decode": lambda i: decode(vae.decoder, codes[i]),
        "slider move": lambda i: draw(vae.decoder, directions, values[i], residual, zoom),
    }
    for name, (median, p95) in milliseconds(calls, args.repeats).items():
        print(f"{name}: median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
