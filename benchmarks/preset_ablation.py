"""What each change from the textbook model buys: train variants side by side, same data, same seed.

Each variant is a preset (the textbook one unless it names another) plus some parameter
overrides (and, for the model family of `model_families.py`, another model class), trained by
the project's training node on the real model inputs for the same number of epochs, with the
project's `tensorflow_threads`. Prints, per variant, the validation negative ELBO after each
epoch, the median seconds per epoch, the total training time relative to the first variant, the test
negative ELBO with its KL term (single posterior sample, nats/image), and with `--binarized` the
literature's −log p(x) as `evaluate` estimates it (the `evaluate` section's binarized images and
importance samples, with its standard error).

Needs the model inputs: `make data && .venv/bin/kedro run --pipelines=data_processing`.
Run: `.venv/bin/python benchmarks/preset_ablation.py --epochs 10 [--images 55000]
[--variants textbook,no_dense16,...] [--binarized]`.
"""

import argparse
import os
import tempfile
from typing import Any
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from model_families import LocalAutoregressiveVAE  # noqa: E402
from project import (  # noqa: E402
    MODEL_INPUT,
    apply_project_threads,
    fixed_length_training,
    project_config,
)

from fashion_vae.model import vae as vae_module  # noqa: E402
from fashion_vae.parameters import EvaluateParameters, TrainingParameters  # noqa: E402
from fashion_vae.pipelines.evaluate.nodes import binarized_likelihood  # noqa: E402
from fashion_vae.pipelines.training.nodes import train_vae  # noqa: E402

# Overrides of a preset (the textbook one unless "base" names another): architecture and recipe.
NO_DENSE16 = {"encoder_dense_units": []}
VARIANTS: dict[str, dict[str, Any]] = {
    "textbook": {},
    "no_dense16": {"preset": NO_DENSE16},
    "no_dense16_elu": {"preset": {**NO_DENSE16, "activation": "elu"}},
    "no_dense16_swish": {"preset": {**NO_DENSE16, "activation": "swish"}},
    "no_dense16_lr2e-3": {"preset": {**NO_DENSE16, "learning_rate": 0.002}},
    "no_dense16_wide_decoder": {"preset": {**NO_DENSE16, "decoder_filters": [64, 64]}},
    "no_dense16_wide_encoder": {"preset": {**NO_DENSE16, "encoder_filters": [64, 128]}},
    "no_dense16_batch64": {"preset": {**NO_DENSE16, "batch_size": 64}},
    "dense512": {"preset": {"encoder_dense_units": [512], "decoder_dense_units": [512]}},
    "default": {"base": "default"},
    "default_float32": {"base": "default", "preset": {"dtype_policy": "float32"}},
    "default_two_levels": {
        "base": "default",
        "preset": {"encoder_filters": [32, 64], "decoder_filters": [64, 16]},
    },
    "default_local_autoregressive": {"base": "default", "model": LocalAutoregressiveVAE},
    "default_vamp50": {"base": "default", "preset": {"pseudo_inputs": 50}},
    "default_vamp200": {"base": "default", "preset": {"pseudo_inputs": 200}},
    "default_vamp500": {"base": "default", "preset": {"pseudo_inputs": 500}},
    "vamp": {"base": "vamp"},
    "ladder": {"base": "ladder"},
    "default_dynamic": {"base": "default", "training": {"binarize": "dynamic"}},
    "autoregressive": {"base": "autoregressive"},
    "autoregressive_c64": {"base": "autoregressive", "preset": {"autoregressive_channels": 64}},
    "autoregressive_k5": {"base": "autoregressive", "preset": {"autoregressive_kernel_size": 5}},
}


def variant_parameters(name: str, epochs: int, checkpoint_dir: str) -> TrainingParameters:
    """The project's training parameters with one variant's overrides applied."""
    overrides = VARIANTS[name]
    return fixed_length_training(
        overrides.get("base", "textbook"),
        epochs,
        checkpoint_dir,
        overrides.get("preset"),
        **overrides.get("training", {}),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--images", type=int, default=55000, help="training images")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--binarized", action="store_true", help="also the binarized -log p(x)")
    args = parser.parse_args()
    apply_project_threads()

    train = np.load(MODEL_INPUT / "train_images.npy")[: args.images]
    validation = np.load(MODEL_INPUT / "validation_images.npy")
    test_images = np.load(MODEL_INPUT / "test_images.npy")
    evaluate = EvaluateParameters.model_validate(project_config()["parameters"]["evaluate"])
    results = []
    for name in args.variants.split(","):
        # `build_vae` builds the module's `VAE`; a model-family variant swaps in its subclass.
        model_class = VARIANTS[name].get("model", vae_module.VAE)
        with (
            tempfile.TemporaryDirectory() as checkpoint_dir,
            mock.patch.object(vae_module, "VAE", model_class),
        ):
            training = variant_parameters(name, args.epochs, checkpoint_dir)
            vae, history, _ = train_vae(train, validation, training, args.seed)
        test = vae.evaluate(test_images, batch_size=1000, verbose=0, return_dict=True)
        if args.binarized:
            binarized = binarized_likelihood(vae, test_images, evaluate, args.seed)
            test["binarized"] = (
                f"{binarized['negative_log_likelihood']:.1f} ({binarized['standard_error']:.1f})"
            )
        curve = ", ".join(f"{v:.1f}" for v in history["val_neg_elbo"])
        print(f"{name}: validation -ELBO per epoch {curve}", flush=True)
        # Each variant's figures as soon as it is done: a long comparison may be cut short.
        print(
            f"{name}: {history['seconds'].median():.1f} s/epoch, test -ELBO "
            f"{test['neg_elbo']:.2f} (KL {test['kl']:.2f}), binarized {test.get('binarized', '-')}",
            flush=True,
        )
        results.append((name, history, test))

    baseline_seconds = results[0][1]["seconds"].sum()
    print(f"\n{len(train):,} training images, {args.epochs} epochs, seed {args.seed}")
    print(
        f"{'variant':28s} {'s/epoch':>8s} {'time ×':>7s} {'best val':>9s} "
        f"{'test -ELBO':>11s} {'test KL':>8s} {'binarized -log p(x) (s.e.)':>27s}"
    )
    for name, history, test in results:
        print(
            f"{name:28s} {history['seconds'].median():8.1f} "
            f"{history['seconds'].sum() / baseline_seconds:7.2f} "
            f"{history['val_neg_elbo'].min():9.1f} {test['neg_elbo']:11.2f} {test['kl']:8.2f} "
            f"{test.get('binarized', '-'):>27s}"
        )


if __name__ == "__main__":
    main()
