"""The training node: learning, determinism, resume, divergence and parameter checks."""

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from configs import textbook_preset
from pydantic import ValidationError

from fashion_vae.errors import TrainingDivergedError
from fashion_vae.evaluation.likelihood import binarize
from fashion_vae.parameters import TrainingParameters
from fashion_vae.pipelines.training import nodes as training_nodes
from fashion_vae.pipelines.training.nodes import (
    learning_rate_schedule,
    prepare_checkpoint_dir,
    train_vae,
)
from fashion_vae.runtime import hardware

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


def run_training(
    train_images: np.ndarray, validation_images: np.ndarray, training: dict[str, Any], seed: int
) -> tuple[keras.Model, pd.DataFrame, np.ndarray]:
    """`train_vae` on the parameters as Kedro passes them: validated into their model."""
    return train_vae(
        train_images, validation_images, TrainingParameters.model_validate(training), seed
    )


def test_training_lowers_validation_loss_and_is_deterministic(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    train, validation = real_images[:512], real_images[512:768]
    vae, history, progress = run_training(train, validation, training, seed=1)
    assert list(history["epoch"]) == [1, 2]
    assert history["val_neg_elbo"].iloc[-1] < history["val_neg_elbo"].iloc[0]
    for column in ("loss", "reconstruction", "kl", "val_reconstruction", "val_kl", "seconds"):
        assert column in history
    assert (history["images_per_second"] > 0).all()
    assert progress.shape == (2, 4, 28, 28) and progress.dtype == np.float32
    assert vae.latent_dim == 8

    _, again, _ = run_training(train, validation, training, seed=1)
    np.testing.assert_array_equal(again["val_neg_elbo"], history["val_neg_elbo"])
    _, other_seed, _ = run_training(train, validation, training, seed=2)
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
        run_training(train, validation, training, seed=1)
    monkeypatch.undo()
    assert Path(training["checkpoint_dir"]).exists()

    epochs_run: list[int] = []
    original_begin = keras.callbacks.BackupAndRestore.on_epoch_begin
    monkeypatch.setattr(
        keras.callbacks.BackupAndRestore,
        "on_epoch_begin",
        lambda self, epoch, logs=None: (epochs_run.append(epoch), original_begin(self, epoch)),
    )
    _, history, progress = run_training(train, validation, training, seed=1)
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
    _, history, _ = run_training(real_images[:128], real_images[128:192], training, seed=1)
    assert list(history["epoch"]) == [1]


def test_dynamic_binarization_trains_on_binary_draws_and_is_deterministic(
    real_images: np.ndarray,
    training: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    train, validation = real_images[:256], real_images[256:320]
    training["presets"]["default"].update(epochs=1, learning_rate_warmup_epochs=0)
    _, continuous, _ = run_training(train, validation, training, seed=1)
    training["binarize"] = "dynamic"
    drawn = []

    def recorded(images: np.ndarray, seed: int) -> np.ndarray:
        drawn.append((images, seed))
        return binarize(images, seed)

    monkeypatch.setattr(training_nodes, "binarize", recorded)
    _, binarized, _ = run_training(train, validation, training, seed=1)
    training["checkpoint_dir"] = str(tmp_path / "again")
    _, again, _ = run_training(train, validation, training, seed=1)
    # The same seed and steps on other targets: another training loss, the same kind of model.
    assert binarized["loss"][0] != continuous["loss"][0]
    # Validation scores one draw of the validation images, seeded by the run's seed.
    assert [seed for _, seed in drawn] == [1, 1]  # this run and the same run again
    assert all(images is validation for images, _ in drawn)
    assert binarized["val_neg_elbo"][0] != continuous["val_neg_elbo"][0]
    columns = ["loss", "val_neg_elbo"]
    pd.testing.assert_frame_equal(binarized[columns], again[columns])


def test_divergence_is_a_clear_error_naming_the_epoch(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    training["presets"]["default"]["learning_rate"] = 1e12
    training["presets"]["default"]["epochs"] = 3
    with pytest.raises(
        TrainingDivergedError,
        match=r"epoch \d+: NaN or Inf loss encountered at batch \d+"
        r".*training\.presets\.default\.learning_rate",
    ):
        run_training(
            real_images[:256],
            real_images[256:320],
            TrainingParameters.model_validate(training),
            seed=1,
        )


def refusal(location: str, expected: str) -> str:
    """The pattern of Pydantic's message for a refused value of `training`."""
    return rf"for training\n{re.escape(location)}\n  {expected}"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("latent_dim", 0, refusal("latent_dim", r"Input should be greater than 0.*input_value=0")),
        ("beta", -1.0, refusal("beta", r"Input should be greater than or equal to 0.*=-1\.0")),
        (
            "preset",
            "huge",
            r"training\.preset is 'huge'; expected one of "
            r"\['autoregressive', 'default', 'ladder', 'textbook', 'vamp'\]",
        ),
        ("resume", "yes", refusal("resume", r"Input should be a valid boolean.*input_value='yes'")),
        (
            "steps_per_execution",
            0,
            refusal("steps_per_execution", "Input should be greater than 0"),
        ),
        (
            "batch_shards",
            0,
            r"for training\nbatch_shards\.constrained-int\n  Input should be greater than 0",
        ),
        ("verbose", "loud", refusal("verbose", "Input should be 'auto', 0, 1 or 2")),
        ("latent_dims", 8, refusal("latent_dims", "Extra inputs are not permitted")),
    ],
)
def test_bad_parameters_are_refused_by_name(
    training: dict[str, Any], key: str, value: Any, message: str
) -> None:
    training[key] = value
    with pytest.raises(ValidationError, match=message):
        TrainingParameters.model_validate(training)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("encoder_filters", [8, 16, 32, 64], "List should have at most 3 items"),
        ("learning_rate", "fast", "Input should be a valid number"),
        ("learning_rate", 0, "Input should be greater than 0"),
        ("learning_rate_decay", "step", "Input should be 'none' or 'cosine'"),
        ("dtype_policy", "float16", "Input should be 'auto', 'float32' or 'mixed_bfloat16'"),
        ("epochs", -3, "Input should be greater than 0"),
        ("batch_size", "many", "Input should be a valid integer"),
        ("learning_rate_warmup_epochs", -1, "Input should be greater than or equal to 0"),
    ],
)
def test_bad_preset_entry_names_the_preset(
    training: dict[str, Any], key: str, value: Any, message: str
) -> None:
    training["presets"]["default"][key] = value
    with pytest.raises(ValidationError, match=refusal(f"presets.default.{key}", message)):
        TrainingParameters.model_validate(training)


@pytest.mark.parametrize(
    ("preset", "option"), [("vamp", "pseudo_inputs"), ("ladder", "ladder_channels")]
)
def test_the_model_family_presets_are_default_with_one_option(preset: str, option: str) -> None:
    presets = TrainingParameters.model_validate(
        yaml.safe_load(BASE_PARAMETERS.read_text())["training"]
    ).presets
    assert getattr(presets[preset], option) > 0
    assert getattr(presets["default"], option) == 0
    assert presets[preset].model_dump(exclude={option}) == presets["default"].model_dump(
        exclude={option}
    )


def test_warm_up_longer_than_the_preset_is_refused(training: dict[str, Any]) -> None:
    training["presets"]["default"]["learning_rate_warmup_epochs"] = 2
    with pytest.raises(
        ValidationError,
        match=refusal(
            "presets.default", "Value error, learning_rate_warmup_epochs is 2; expected fewer"
        ),
    ):
        TrainingParameters.model_validate(training)


@pytest.mark.parametrize(("decay", "final_fraction"), [("cosine", 0.01), ("none", 1.0)])
def test_learning_rate_warms_up_from_zero_then_follows_its_decay(
    decay: str, final_fraction: float
) -> None:
    preset = textbook_preset(
        batch_size=8,
        epochs=10,
        learning_rate=0.002,
        learning_rate_warmup_epochs=2,
        learning_rate_decay=decay,
    )
    schedule = learning_rate_schedule(preset, steps_per_epoch=5)
    rates = [float(schedule(step)) for step in (0, 5, 10, 50)]
    assert rates[:3] == pytest.approx([0.0, 0.001, 0.002])  # linear over the first 10 steps
    assert rates[3] == pytest.approx(0.002 * final_fraction)  # the last step


def test_without_warm_up_or_decay_the_learning_rate_is_a_constant() -> None:
    preset = textbook_preset(
        batch_size=8, epochs=3, learning_rate=0.001, learning_rate_decay="none"
    )
    assert learning_rate_schedule(preset, steps_per_epoch=7) == 0.001


def test_batch_larger_than_the_data_is_refused_before_training(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    training["presets"]["default"]["batch_size"] = 1000
    with pytest.raises(ValueError, match=r"training\.presets\.default\.batch_size is 1000; .*100"):
        train_vae(
            real_images[:100],
            real_images[100:150],
            TrainingParameters.model_validate(training),
            seed=1,
        )
    assert not Path(training["checkpoint_dir"]).exists()


def test_training_pipeline_stores_a_versioned_model(
    project_copy: Path, run_pipelines: Callable
) -> None:
    run_pipelines(project_copy, "data_processing")
    # The session configures logging itself (replacing pytest's handlers on the root logger),
    # so the node's records are collected on its own logger.
    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append
    logging.getLogger(train_vae.__module__).addHandler(collector)
    try:
        run_pipelines(project_copy, "training")
    finally:
        logging.getLogger(train_vae.__module__).removeHandler(collector)
    log = "\n".join(record.getMessage() for record in records)
    # The preset's dtype_policy is auto: the log says what this machine got, and why.
    chosen = hardware.dtype_policy("auto")
    assert chosen.describe("training.presets.default.dtype_policy") in log
    assert "training.batch_shards = " in log
    outputs = project_copy / "data" / "test_env"
    (model_path,) = (outputs / "06_models" / "vae.keras").glob("*/vae.keras")
    vae = keras.saving.load_model(model_path, safe_mode=True)
    assert vae.encoder.get_layer("conv_0").dtype_policy.name == chosen.value
    assert vae.latent_dim == 16  # conf/test/parameters_training.yml
    (history_path,) = (outputs / "08_reporting" / "training_history.csv").glob("*/*.csv")
    assert list(pd.read_csv(history_path)["epoch"]) == [1, 2]
    (progress_path,) = (outputs / "07_model_output" / "training_progress.npy").glob("*/*.npy")
    assert np.load(progress_path).shape == (2, 16, 28, 28)


def test_checkpoint_of_another_configuration_is_discarded(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    checkpoint = Path(training["checkpoint_dir"])
    other = {**training, "latent_dim": 3}
    prepare_checkpoint_dir(
        checkpoint, TrainingParameters.model_validate(other), seed=1, data_shape=(128, 28, 28, 1)
    )
    (checkpoint / "latest.weights.h5").write_bytes(b"weights of a 3-d latent model")
    training["presets"]["default"].update(epochs=1, learning_rate_warmup_epochs=0)
    _, history, _ = run_training(real_images[:128], real_images[128:192], training, seed=1)
    assert list(history["epoch"]) == [1]


def test_steps_per_execution_changes_only_how_steps_are_dispatched(
    real_images: np.ndarray, training: dict[str, Any]
) -> None:
    train, validation = real_images[:500], real_images[500:700]
    training["steps_per_execution"] = 1
    _, one_by_one, _ = run_training(train, validation, training, seed=1)
    # 8 steps per epoch in chunks of 3: the last chunk of each epoch is a short one.
    training["steps_per_execution"] = 3
    vae, chunked, _ = run_training(train, validation, training, seed=1)
    assert vae.steps_per_execution == 3
    for column in ("neg_elbo", "val_neg_elbo", "learning_rate"):
        np.testing.assert_array_equal(chunked[column], one_by_one[column])
