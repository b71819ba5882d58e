"""How fast the explorer answers: one decode, and one slider move's handler, in milliseconds.

Loads a stored VAE (`--model PATH` to a `.keras` file, e.g. the newest
`data/06_models/vae.keras/<version>/vae.keras`) or, without one, builds a fresh model of the
`default` preset's architecture (`conf/base`); timing does not depend on the weights. Prints the
CPU (`lscpu`'s model name), then the median and 95th percentile of

- a decode: one code through the decoder, called directly as the explorer calls it;
- a slider move: the explorer's handler end to end (slider values → code → decoded image →
  zoomed 8-bit picture), over `--sliders` principal directions (the `default` model's 17 active
  units) of stand-in codes.

With `--project DIR` (and `--env`), it also serves that project's explorer (its latest model
and density) and times, in headless Chromium, a slider's input event to the new image on the
page: Gradio's request, the handler, the picture's encoding and its loading included.
Run: `.venv/bin/python benchmarks/explorer_latency.py [--model PATH] [--repeats 200]
[--project . --env test]`.
"""

import argparse
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from project import project_config, training_parameters  # noqa: E402

from fashion_vae.explorer.latent_space import decode, draw, fit_directions  # noqa: E402
from fashion_vae.model import build_vae  # noqa: E402
from fashion_vae.model.on_this_machine import adapt_to_this_machine  # noqa: E402
from fashion_vae.parameters import ExploreParameters  # noqa: E402

WARM_UP = 10
# In the page: move the first slider to arguments[0] as a user would (an `input` event), and
# answer the milliseconds until the decoded image's address changes and until it has loaded.
MOVE_AND_WAIT = """
const done = arguments[arguments.length - 1];
const range = document.querySelector("input[type=range]");
const box = document.querySelector("#decoded");
const before = box.querySelector("img").src;
const start = performance.now();
const timer = setInterval(() => {
  const img = box.querySelector("img");
  if (!img || img.src === before) return;
  clearInterval(timer);
  const changed = performance.now() - start;
  const finish = () => done([changed, performance.now() - start]);
  if (img.complete) finish(); else img.onload = finish;
}, 1);
range.value = arguments[0];
range.dispatchEvent(new Event("input", {bubbles: true}));
"""


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


def in_the_browser(project: Path, env: str, repeats: int) -> dict[str, tuple[float, float]]:
    """Median and 95th percentile of a slider move in headless Chromium, over the served app."""
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    from fashion_vae.explorer.launcher import launch  # noqa: PLC0415
    from fashion_vae.explorer.loading import load_explorer  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = launch(load_explorer(project.resolve(), env, {}), "127.0.0.1", port)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}")
    service = webdriver.ChromeService("/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.get(app.local_url)
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return !!document.querySelector('#decoded img')")
        )
        values = np.round(np.linspace(-2.9, 2.9, WARM_UP + repeats), 2)
        times = np.array([driver.execute_async_script(MOVE_AND_WAIT, str(v)) for v in values])
    finally:
        driver.quit()
        app.close()
    times = times[WARM_UP:]
    return {
        name: (float(np.median(column)), float(np.percentile(column, 95)))
        for name, column in zip(("new image address", "image loaded"), times.T, strict=True)
    }


def main() -> None:
    """Print the CPU and the two latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a stored .keras VAE (default: a fresh `default` one)")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sliders", type=int, default=17)
    parser.add_argument("--project", type=Path, help="also time a slider move in the browser")
    parser.add_argument("--env", default="local", help="the project's Kedro environment")
    args = parser.parse_args()
    vae = load_vae(args.model)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((args.repeats + WARM_UP, vae.latent_dim)).astype(np.float32)
    directions = fit_directions(rng.standard_normal((2000, vae.latent_dim)), args.sliders)
    values = rng.uniform(-3, 3, (args.repeats + WARM_UP, directions.count))
    residual = np.zeros(vae.latent_dim)
    zoom = ExploreParameters.model_validate(project_config()["parameters"]["explore"]).zoom
    print(f"CPU: {cpu_model()}; model: {args.model or 'a fresh default-preset VAE'}")
    print(f"latent_dim {vae.latent_dim}, {directions.count} sliders, {args.repeats} repeats")
    calls = {
        "decode": lambda i: decode(vae, codes[i]),
        "slider move": lambda i: draw(vae, directions, values[i], residual, zoom),
    }
    for name, (median, p95) in milliseconds(calls, args.repeats).items():
        print(f"{name}: median {median:.1f} ms, p95 {p95:.1f} ms")
    if args.project:
        for name, (median, p95) in in_the_browser(args.project, args.env, args.repeats).items():
            print(f"browser, slider input to {name}: median {median:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
