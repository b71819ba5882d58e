"""training.distribution: which strategy is chosen, and MirroredStrategy equals one device.

The two-device runs split the CPU into two logical devices, which TensorFlow allows only
before it initializes its devices: they run in a fresh Python process.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from pydantic import ValidationError

from fashion_vae.model.distribution import DistributionError, distribution_strategy, replicas
from fashion_vae.parameters import DistributionParameters

TWO_DEVICE_RUNS = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path

    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    tf.config.threading.set_intra_op_parallelism_threads(1)

    import keras
    import numpy as np
    import yaml

    from fashion_vae.model import build_vae
    from fashion_vae.parameters import TrainingParameters
    from fashion_vae.pipelines.training import nodes

    # Plain SGD: a weight's update is the learning rate times its gradient, so the runs differ
    # only by the float32 rounding of the gradients' sums. Adam divides by the gradient's scale,
    # which turns a rounding of a near-zero gradient into a full step of either sign.
    nodes.FusedAdam = keras.optimizers.SGD

    out = Path(sys.argv[1])
    images = np.load(out / "images.npy")
    params = yaml.safe_load(Path(sys.argv[2]).read_text())["training"]
    # Two epochs of 3 batches of 64 (the last one short, split 32 + 31 by the strategy), in
    # float32: bfloat16 sums in another order differ by its 3 significant digits.
    params["presets"]["default"].update(
        epochs=2,
        batch_size=64,
        dtype_policy="float32",
        learning_rate=0.01,
        learning_rate_warmup_epochs=0,
    )
    params.update(latent_dim=4, verbose=0, progress_samples=2, batch_shards=1)
    results = {}
    # The weights every run starts from: the node seeds Keras, then builds the model.
    first = TrainingParameters.model_validate(dict(params, checkpoint_dir=str(out / "first")))
    keras.utils.set_random_seed(5)
    build_vae(first.vae_config, seed=5).save(out / "initial.keras")
    for name, distribution in {
        "none": {"strategy": "none", "devices": None},
        "auto": {"strategy": "auto", "devices": None},
        "mirrored": {"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]},
    }.items():
        settings = dict(params, distribution=distribution, checkpoint_dir=str(out / name))
        vae, history, _ = nodes.train_vae(
            images[:191], images[191:], TrainingParameters.model_validate(settings), seed=5
        )
        vae.save(out / f"{name}.keras")
        results[name] = {
            "loss": history["loss"].tolist(),
            "val_neg_elbo": history["val_neg_elbo"].tolist(),
            "replicas": int(vae.distribute_strategy.num_replicas_in_sync),
        }
    (out / "results.json").write_text(json.dumps(results))
    """
)
BASE_PARAMETERS = Path(__file__).resolve().parents[1] / "conf/base/parameters_training.yml"
# The two runs sum the same float32 numbers in another order (per replica, then across
# replicas): each sum is exact to about n·2⁻²⁴ of its terms' magnitudes (n ≤ 64 images of 784
# pixels), and six SGD steps carry those roundings into the weights linearly. So the losses
# agree to far better than 1e-5 relative, and each weight tensor's training update (final minus
# initial weights) agrees to far better than 1e-3 of its own size, plus the rounding of each
# step's sum w + update to float32 (2⁻²⁴ of the weights per step). A wrong split (an image
# counted twice, other noise, a gradient not averaged over the global batch) moves an update by
# tens of percent.
LOSS_TOLERANCE = 1e-5
UPDATE_TOLERANCE = 1e-3
STEPS = 6
FLOAT32_ROUNDING = 2.0**-24


@pytest.fixture(scope="module")
def two_device_runs(tmp_path_factory: pytest.TempPathFactory, real_images: np.ndarray) -> Path:
    """The training node with distribution none, auto and mirrored, on two logical CPUs."""
    out = tmp_path_factory.mktemp("two_devices")
    np.save(out / "images.npy", real_images[:255])
    subprocess.run(
        [sys.executable, "-c", TWO_DEVICE_RUNS, str(out), str(BASE_PARAMETERS)],
        check=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return out


def test_mirrored_training_on_two_devices_equals_one_device(two_device_runs: Path) -> None:
    results = json.loads((two_device_runs / "results.json").read_text())
    assert [results[name]["replicas"] for name in ("none", "auto", "mirrored")] == [1, 1, 2]
    for metric in ("loss", "val_neg_elbo"):
        np.testing.assert_allclose(
            results["mirrored"][metric], results["none"][metric], rtol=LOSS_TOLERANCE
        )
        # CPUs are no GPUs: auto trains on one device, exactly as none does.
        assert results["auto"][metric] == results["none"][metric]
    # Saved under a strategy, loaded without one (this process has one CPU device).
    mirrored, single, initial = (
        keras.saving.load_model(two_device_runs / f"{name}.keras", safe_mode=True)
        for name in ("mirrored", "none", "initial")
    )
    assert len(tf.config.list_logical_devices("CPU")) == 1
    for mirrored_weight, single_weight, initial_weight in zip(
        mirrored.weights, single.weights, initial.weights, strict=True
    ):
        update = np.asarray(single_weight) - np.asarray(initial_weight)
        difference = np.asarray(mirrored_weight) - np.asarray(single_weight)
        if mirrored_weight.trainable:
            assert np.linalg.norm(update) > 0, f"{mirrored_weight.path} did not train"
        rounding = STEPS * FLOAT32_ROUNDING * np.linalg.norm(np.asarray(initial_weight))
        assert np.linalg.norm(difference) <= UPDATE_TOLERANCE * np.linalg.norm(update) + rounding, (
            mirrored_weight.path
        )
    images = np.load(two_device_runs / "images.npy")[:8]
    np.testing.assert_allclose(mirrored.reconstruct(images), single.reconstruct(images), atol=1e-3)


def test_auto_and_none_train_on_one_device_here() -> None:
    assert not tf.config.list_logical_devices("GPU"), "this test describes a machine with no GPU"
    for strategy in ("auto", "none"):
        chosen = distribution_strategy(DistributionParameters(strategy=strategy, devices=None))
        assert replicas(chosen) == 1
        assert chosen is tf.distribute.get_strategy()


def test_mirrored_refuses_a_device_the_machine_lacks() -> None:
    settings = DistributionParameters(strategy="mirrored", devices=["/cpu:0", "/gpu:3"])
    with pytest.raises(DistributionError, match=r"names \['/gpu:3'\].*it has \['/device:CPU:0'"):
        distribution_strategy(settings)


def test_a_device_list_needs_mirrored() -> None:
    with pytest.raises(ValidationError, match="a device list needs strategy 'mirrored'"):
        DistributionParameters(strategy="auto", devices=["/gpu:0"])
