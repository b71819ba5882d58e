"""The training node: learning, determinism, resume, divergence and parameter checks."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

from fashion_vae.model.callbacks import TrainingDivergedError
from fashion_vae.parameters import InvalidParameterError, validate_training_parameters
from fashion_vae.pipelines.training.nodes import (
    learning_rate_schedule,
    prepare_checkpoint_dir,
    train_vae,
)

BASE_PARAMETERS = Path(__file__).resolve().parents[2] / "conf/base/parameters_training.yml"


@pytest.fixture
def training(tmp_path: Path) -> dict[str, Any]:
    """The project's training parameters, made small."""
    params = yaml.safe_load(BASE_PARAMETERS.read_text())["training"]
    params["presets"]["default"].update(epochs=2, batch_size=64)
    params.update(
        latent_dim=8,
        verbose=0,
        progress_samples=4,
        checkpoint_dir=str(tmp_path / "checkpoint"),
    )
    return params


def test_training_lowers_validation_loss_and_is_deterministic(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    train, validation = real_images[:512], real_images[512:768]
    vae, history, progress = train_vae(train, validation, training, seed=1)
    assert list(history["epoch"]) == [1, 2]
    assert history["val_neg_elbo"].iloc[-1] < history["val_neg_elbo"].iloc[0]
    for column in ("loss", "reconstruction", "kl", "val_reconstruction", "val_kl", "seconds"):
        assert column in history
    assert (history["images_per_second"] > 0).all()
    assert progress.shape == (2, 4, 28, 28) and progress.dtype == np.float32
    assert vae.latent_dim == 8

    _, again, _ = train_vae(train, validation, training, seed=1)
    np.testing.assert_array_equal(again["val_neg_elbo"], history["val_neg_elbo"])
    _, other_seed, _ = train_vae(train, validation, training, seed=2)
    assert not np.array_equal(other_seed["val_neg_elbo"], history["val_neg_elbo"])


class _Interrupted(Exception):
    pass


def test_interrupted_run_resumes_at_the_next_epoch(
    real_images: np.ndarray, training: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    train, validation = real_images[:256], real_images[256:384]
    training["presets"]["default"]["epochs"] = 3
    save_epoch = keras.callbacks.BackupAndRestore.on_epoch_end

    def crash_after_first_epoch(self, epoch: int, logs: dict | None = None) -> None:
        save_epoch(self, epoch, logs)
        raise _Interrupted

    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_epoch_end", crash_after_first_epoch)
    with pytest.raises(_Interrupted):
        train_vae(train, validation, training, seed=1)
    monkeypatch.undo()
    assert Path(training["checkpoint_dir"]).exists()

    epochs_run: list[int] = []
    original_begin = keras.callbacks.BackupAndRestore.on_epoch_begin
    monkeypatch.setattr(
        keras.callbacks.BackupAndRestore,
        "on_epoch_begin",
        lambda self, epoch, logs=None: (epochs_run.append(epoch), original_begin(self, epoch)),
    )
    _, history, progress = train_vae(train, validation, training, seed=1)
    assert epochs_run == [1, 2]
    assert list(history["epoch"]) == [1, 2, 3]
    assert progress.shape[0] == 3
    assert not Path(training["checkpoint_dir"]).exists()  # removed once training completed


def test_resume_false_starts_over(
    real_images: np.ndarray, training: dict[str, Any], tmp_path: Path
) -> None:
    checkpoint = Path(training["checkpoint_dir"])
    checkpoint.mkdir()
    (checkpoint / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    training["resume"] = False
    training["presets"]["default"].update(epochs=1, learning_rate_warmup_epochs=0)
    _, history, _ = train_vae(real_images[:128], real_images[128:192], training, seed=1)
    assert list(history["epoch"]) == [1]


def test_divergence_is_a_clear_error_naming_the_epoch(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    training["presets"]["default"]["learning_rate"] = 1e12
    training["presets"]["default"]["epochs"] = 3
    with pytest.raises(
        TrainingDivergedError,
        match=r"epoch \d+, batch \d+.*training\.presets\.default\.learning_rate",
    ):
        train_vae(real_images[:256], real_images[256:320], training, seed=1)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("latent_dim", 0, r"training\.latent_dim is 0; expected an integer ≥ 1"),
        ("beta", -1.0, r"training\.beta is -1\.0; expected a finite number ≥ 0"),
        ("preset", "huge", r"training\.preset is 'huge'; expected one of \['default', 'tex"),
        ("resume", "yes", r"training\.resume is 'yes'; expected true or false"),
        ("steps_per_execution", 0, r"training\.steps_per_execution is 0; expected an integer"),
        ("batch_shards", 0, r"training\.batch_shards is 0; expected an integer ≥ 1"),
    ],
)
def test_bad_parameters_are_refused_by_name(
    training: dict[str, Any], key: str, value: Any, message: str
) -> None:
    training[key] = value
    with pytest.raises(InvalidParameterError, match=message):
        validate_training_parameters(training)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("encoder_filters", [8, 16, 32, 64], r"encoder_filters is \[8, 16, 32, 64\]; expected a"),
        ("learning_rate", "fast", r"learning_rate is 'fast'; expected a finite number > 0"),
        ("learning_rate", 0, r"learning_rate is 0; expected a finite number > 0"),
        ("learning_rate_decay", "step", r"learning_rate_decay is 'step'; expected \"none\""),
        ("dtype_policy", "float16", r"dtype_policy is .float16.; expected \"float32\" or"),
        ("epochs", -3, r"epochs is -3; expected an integer ≥ 1"),
        ("batch_size", "many", r"batch_size is 'many'; expected an integer"),
        ("learning_rate_warmup_epochs", -1, r"learning_rate_warmup_epochs is -1; expected an int"),
        ("learning_rate_warmup_epochs", 2, r"learning_rate_warmup_epochs is 2; expected fewer"),
    ],
)
def test_bad_preset_entry_names_the_preset(
    training: dict[str, Any], key: str, value: Any, message: str
) -> None:
    training["presets"]["default"][key] = value
    with pytest.raises(InvalidParameterError, match=r"training\.presets\.default\." + message):
        validate_training_parameters(training)


@pytest.mark.parametrize(("decay", "final_fraction"), [("cosine", 0.01), ("none", 1.0)])
def test_learning_rate_warms_up_from_zero_then_follows_its_decay(
    decay: str, final_fraction: float
) -> None:
    preset = dict(
        epochs=10, learning_rate=0.002, learning_rate_warmup_epochs=2, learning_rate_decay=decay
    )
    schedule = learning_rate_schedule(preset, steps_per_epoch=5)
    rates = [float(schedule(step)) for step in (0, 5, 10, 50)]
    assert rates[:3] == pytest.approx([0.0, 0.001, 0.002])  # linear over the first 10 steps
    assert rates[3] == pytest.approx(0.002 * final_fraction)  # the last step


def test_without_warm_up_or_decay_the_learning_rate_is_a_constant() -> None:
    preset = dict(
        epochs=3, learning_rate=0.001, learning_rate_warmup_epochs=0, learning_rate_decay="none"
    )
    assert learning_rate_schedule(preset, steps_per_epoch=7) == 0.001


def test_batch_larger_than_the_data_is_refused_before_training(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    training["presets"]["default"]["batch_size"] = 1000
    with pytest.raises(
        InvalidParameterError, match=r"training\.presets\.default\.batch_size is 1000; .*100"
    ):
        train_vae(real_images[:100], real_images[100:150], training, seed=1)
    assert not Path(training["checkpoint_dir"]).exists()


def test_training_pipeline_stores_a_versioned_model(
    project_copy: Path, run_pipelines: Callable
) -> None:
    run_pipelines(project_copy, "data_processing")
    run_pipelines(project_copy, "training")
    outputs = project_copy / "data" / "test_env"
    (model_path,) = (outputs / "06_models" / "vae.keras").glob("*/vae.keras")
    vae = keras.saving.load_model(model_path, safe_mode=True)
    assert vae.latent_dim == 16  # conf/test/parameters_training.yml
    (history_path,) = (outputs / "08_reporting" / "training_history.csv").glob("*/*.csv")
    assert list(pd.read_csv(history_path)["epoch"]) == [1, 2]
    (progress_path,) = (outputs / "07_model_output" / "training_progress.npy").glob("*/*.npy")
    assert np.load(progress_path).shape == (2, 16, 28, 28)


def test_training_without_model_inputs_says_what_to_run(
    project_copy: Path, run_pipelines: Callable
) -> None:
    with pytest.raises(FileNotFoundError, match=r"kedro run --pipeline=data_processing"):
        run_pipelines(project_copy, "training")


def test_bad_runtime_parameter_stops_before_any_node(
    project_copy: Path, run_pipelines: Callable
) -> None:
    with pytest.raises(InvalidParameterError, match=r"training\.latent_dim is 0"):
        run_pipelines(project_copy, "__default__", runtime_params={"training": {"latent_dim": 0}})
    assert not (project_copy / "data" / "test_env").exists()


def test_checkpoint_of_another_configuration_is_discarded(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    checkpoint = Path(training["checkpoint_dir"])
    other = {**training, "latent_dim": 3}
    prepare_checkpoint_dir(checkpoint, other, seed=1, data_shape=(128, 28, 28, 1))
    (checkpoint / "latest.weights.h5").write_bytes(b"weights of a 3-d latent model")
    training["presets"]["default"].update(epochs=1, learning_rate_warmup_epochs=0)
    _, history, _ = train_vae(real_images[:128], real_images[128:192], training, seed=1)
    assert list(history["epoch"]) == [1]


def test_steps_per_execution_changes_only_how_steps_are_dispatched(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    train, validation = real_images[:500], real_images[500:700]
    training["steps_per_execution"] = 1
    _, one_by_one, _ = train_vae(train, validation, training, seed=1)
    # 8 steps per epoch in chunks of 3: the last chunk of each epoch is a short one.
    training["steps_per_execution"] = 3
    vae, chunked, _ = train_vae(train, validation, training, seed=1)
    assert vae.steps_per_execution == 3
    for column in ("neg_elbo", "val_neg_elbo", "learning_rate"):
        np.testing.assert_array_equal(chunked[column], one_by_one[column])
