"""FusedAdam: Keras' Adam arithmetic in TensorFlow's one-pass kernel."""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from configs import vae_config

from fashion_vae.model import build_vae
from fashion_vae.model.optimizers import FusedAdam


def _after_updates(optimizer: keras.optimizers.Optimizer, amsgrad: bool = False) -> np.ndarray:
    rng = np.random.default_rng(0)
    variable = keras.Variable(np.ones((6, 4), dtype="float32"))
    for _ in range(25):
        gradient = rng.standard_normal((6, 4)).astype("float32")
        optimizer.apply([gradient], [variable])
    return keras.ops.convert_to_numpy(variable)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_gives_keras_adams_updates(amsgrad: bool) -> None:
    def schedule() -> keras.optimizers.schedules.LearningRateSchedule:
        return keras.optimizers.schedules.CosineDecay(0.05, decay_steps=25, alpha=0.01)

    expected = _after_updates(keras.optimizers.Adam(schedule(), amsgrad=amsgrad))
    fused = _after_updates(FusedAdam(schedule(), amsgrad=amsgrad))
    assert np.abs(expected - 1.0).max() > 0.1  # the updates did move the variable
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-6)


def _saved_model_with_fused_adam(path: Path) -> keras.Model:
    config = vae_config(
        4,
        encoder_filters=[4],
        encoder_dense_units=[],
        decoder_filters=[4],
        decoder_dense_units=[],
    )
    vae = build_vae(config, seed=0)
    vae.compile(optimizer=FusedAdam(learning_rate=0.003))
    vae.fit(np.full((8, 28, 28, 1), 0.5, dtype="float32"), batch_size=4, epochs=1, verbose=0)
    vae.save(path)
    return vae


def test_model_compiled_with_fused_adam_saves_and_loads_in_safe_mode(tmp_path: Path) -> None:
    vae = _saved_model_with_fused_adam(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras", safe_mode=True)
    assert isinstance(loaded.optimizer, FusedAdam)
    for saved, restored in zip(vae.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    assert loaded.optimizer.get_config()["learning_rate"] == pytest.approx(0.003)


def test_a_fresh_process_importing_the_model_module_loads_it(tmp_path: Path) -> None:
    # A notebook that imports only the model code must find the optimizer the file names.
    _saved_model_with_fused_adam(tmp_path / "vae.keras")
    load = (
        "import keras, fashion_vae.model.vae; "
        f"print(type(keras.saving.load_model({str(tmp_path / 'vae.keras')!r}).optimizer).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", load], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "FusedAdam"
