"""BLAS threads for fitting the latent mixture: one thread against every core, by dimensions.

Encodes the first `--images` training images with the stored model (the latest `vae_model`, or
`--load-version`), keeps the posterior means' most varied dimensions, and times the project's
`fit_mixture` as the latent_density node runs it (`latent_density.n_components` full
components, k-means initialised) for `--iterations` EM iterations, on one BLAS thread and on
every core this process may use, alternating, `--repeats` times, for each count of
`--dimensions` (those above the model's latent_dim are left out). Prints seconds per fit and
the ratio of one thread's median to every core's.

Needs a trained model (`make run`; a VampPrior model has hundreds of varied dimensions). Run
from the project root: `.venv/bin/python benchmarks/mixture_threads.py [--images 55000]
[--dimensions 17,32,64,100,195] [--iterations 5] [--repeats 2]`.
"""

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from project import MODEL_INPUT, load_vae, project_config  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fashion_vae.model import encode_images  # noqa: E402
from fashion_vae.model.latent_density import fit_mixture  # noqa: E402
from fashion_vae.runtime.hardware import usable_cores  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=55_000, help="training images to encode")
    parser.add_argument("--dimensions", default="17,32,64,100,195", help="comma-separated")
    parser.add_argument("--iterations", type=int, default=5, help="EM iterations per fit")
    parser.add_argument("--repeats", type=int, default=2, help="fits per thread count")
    parser.add_argument("--load-version", help="a vae_model version (default: the latest)")
    arguments = parser.parse_args()

    parameters = project_config()["parameters"]["latent_density"]
    vae = load_vae(arguments.load_version)
    images = np.load(MODEL_INPUT / "train_images.npy", mmap_mode="r")[: arguments.images]
    z_mean, _ = encode_images(vae, np.asarray(images), parameters["batch_size"])
    by_variance = np.argsort(-z_mean.astype(np.float64).var(axis=0))
    cores = usable_cores()
    counts = [int(d) for d in arguments.dimensions.split(",") if int(d) <= vae.latent_dim]
    print(
        f"{len(z_mean):,} codes, {parameters['n_components']} full components, "
        f"{arguments.iterations} EM iterations after k-means; 1 thread against {cores}"
    )
    print(f"{'dimensions':>10} {'1 thread (s)':>14} {f'{cores} threads (s)':>16} {'ratio':>7}")
    for dimensions in counts:
        codes = z_mean[:, by_variance[:dimensions]]
        seconds: dict[int, list[float]] = {1: [], cores: []}
        for _ in range(arguments.repeats):
            for threads, times in seconds.items():
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)  # stopped on purpose
                    fit_mixture(
                        codes,
                        n_components=parameters["n_components"],
                        covariance_type="full",
                        seed=0,
                        max_iter=arguments.iterations,
                        threads=threads,
                    )
                times.append(time.perf_counter() - started)
        one, every = statistics.median(seconds[1]), statistics.median(seconds[cores])
        print(f"{dimensions:>10} {one:>14.3g} {every:>16.3g} {one / every:>6.2f}×")


if __name__ == "__main__":
    main()
