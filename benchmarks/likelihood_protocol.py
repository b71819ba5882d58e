"""The literature's binarized −log p(x) on the stored `vae_model`: estimate and time per K.

The same random sample of the test images (fixed by `evaluate.binarize_seed`, binarized as the
whole set), scored with each K of `--samples` in turn, as `evaluate.binarized_likelihood` scores
it: −log p(x) (its standard error over images), the ELBO on the same draws, and seconds.

    .venv/bin/python benchmarks/likelihood_protocol.py [--images 1000] [--samples 1000 5000]
"""

import argparse
import time

import numpy as np
from project import MODEL_INPUT, apply_project_threads, load_vae, project_config

from fashion_vae.evaluation.likelihood import (
    binarized_test_sample,
    importance_sampled_bounds,
    mean_and_error,
)
from fashion_vae.model import encode_images
from fashion_vae.parameters import EvaluateParameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=1000, help="test images (10000: all)")
    parser.add_argument("--samples", type=int, nargs="+", default=[1000, 5000], help="each K")
    parser.add_argument("--version", help="the vae_model version (default: the latest)")
    args = parser.parse_args()
    apply_project_threads()
    parameters = project_config()["parameters"]
    evaluate = EvaluateParameters.model_validate(parameters["evaluate"])
    vae = load_vae(args.version)
    test_images = np.load(MODEL_INPUT / "test_images.npy")
    _, binarized = binarized_test_sample(test_images, args.images, evaluate.binarize_seed)
    posterior = encode_images(vae, binarized, evaluate.batch_size)
    for draws in args.samples:
        started = time.perf_counter()
        iwae, elbo = importance_sampled_bounds(
            vae,
            binarized,
            posterior,
            draws=draws,
            batch_size=evaluate.batch_size,
            rng=np.random.default_rng((parameters["seed"], 6)),
        )
        seconds = time.perf_counter() - started
        nll, error = mean_and_error(-iwae)
        print(
            f"{len(binarized):,} images, K = {draws:,}: -log p(x) {nll:.2f} (s.e. {error:.2f}), "
            f"ELBO on the same draws {-np.mean(elbo):.2f}, {seconds:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
