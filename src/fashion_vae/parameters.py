"""Checks of the run parameters, so that a bad value is refused before any work starts."""

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

# Parameter keys that change only what a run displays, never what it computes.
DISPLAY_ONLY_KEYS = frozenset({"verbose"})
# The Keras dtype policies a preset's hidden layers may compute in (see `build_vae`). Listed
# here rather than imported from the model, so that checking parameters does not load Keras.
DTYPE_POLICIES = ("float32", "mixed_bfloat16")


def without_display_settings(value: Any) -> Any:
    """`value` with every display-only key (such as `verbose`) removed, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: without_display_settings(item)
            for key, item in value.items()
            if key not in DISPLAY_ONLY_KEYS
        }
    return value


class InvalidParameterError(ValueError):
    """A parameter has a value the project cannot use; the message names it and what is allowed."""


def _fail(name: str, value: Any, expected: str) -> InvalidParameterError:
    return InvalidParameterError(f"parameter {name} is {value!r}; expected {expected}")


def require_int(params: Mapping[str, Any], section: str, key: str, minimum: int) -> int:
    """Return params[key] if it is an integer of at least `minimum`, else raise."""
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(f"{section}.{key}", value, f"an integer ≥ {minimum}")
    return value


def require_number(params: Mapping[str, Any], section: str, key: str, positive: bool) -> float:
    """Return params[key] if it is a finite real number (> 0 when `positive`, else ≥ 0)."""
    value = params.get(key)
    bound = "> 0" if positive else "≥ 0"
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        raise _fail(f"{section}.{key}", value, f"a finite number {bound}")
    return float(value)


def _require_int_list(
    preset: Mapping[str, Any], section: str, key: str, lengths: range
) -> list[int]:
    value = preset.get(key)
    if (
        not isinstance(value, list)
        or len(value) not in lengths
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise _fail(
            f"{section}.{key}",
            value,
            f"a list of {lengths.start}–{lengths.stop - 1} positive integers",
        )
    return value


def _require_choice(
    preset: Mapping[str, Any], section: str, key: str, choices: tuple[str, ...]
) -> str:
    value = preset.get(key)
    if value not in choices:
        raise _fail(f"{section}.{key}", value, " or ".join(f'"{c}"' for c in choices))
    return value


def resolve_preset(training: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the chosen preset: `build_vae` keyword arguments under "model", plus its recipe."""
    presets = training.get("presets") or {}
    preset_name = training.get("preset")
    if preset_name not in presets:
        raise _fail("training.preset", preset_name, f"one of {sorted(presets)}")
    preset = presets[preset_name]
    section = f"training.presets.{preset_name}"
    activation = preset.get("activation", "relu")
    if not isinstance(activation, str):
        raise _fail(f"{section}.activation", activation, "the name of a Keras activation")
    _require_choice(preset, section, "learning_rate_decay", ("none", "cosine"))
    model = {
        "latent_dim": require_int(training, "training", "latent_dim", 1),
        # Each stride-2 layer halves the side, rounding up: 28 → 14 → 7 → 4 allows three.
        "encoder_filters": _require_int_list(preset, section, "encoder_filters", range(1, 4)),
        "encoder_dense_units": _require_int_list(
            preset, section, "encoder_dense_units", range(0, 9)
        ),
        "decoder_filters": _require_int_list(preset, section, "decoder_filters", range(1, 4)),
        "decoder_dense_units": _require_int_list(
            preset, section, "decoder_dense_units", range(0, 9)
        ),
        "kernel_size": require_int(preset, section, "kernel_size", 1),
        "activation": activation,
        "dtype_policy": _require_choice(preset, section, "dtype_policy", DTYPE_POLICIES),
    }
    epochs = require_int(preset, section, "epochs", 1)
    warmup_epochs = require_int(preset, section, "learning_rate_warmup_epochs", 0)
    if warmup_epochs >= epochs:
        raise _fail(
            f"{section}.learning_rate_warmup_epochs",
            warmup_epochs,
            f"fewer than the preset's {epochs} epochs",
        )
    return {
        "model": model,
        "batch_size": require_int(preset, section, "batch_size", 1),
        "epochs": epochs,
        "learning_rate": require_number(preset, section, "learning_rate", positive=True),
        "learning_rate_warmup_epochs": warmup_epochs,
        "learning_rate_decay": preset["learning_rate_decay"],
    }


def validate_training_parameters(training: Mapping[str, Any]) -> None:
    """Raise InvalidParameterError for the first unusable value in the `training` section."""
    resolve_preset(training)
    for key, minimum in [
        ("kl_warmup_epochs", 0),
        ("early_stopping_patience", 0),
        ("progress_samples", 1),
        ("steps_per_execution", 1),
        ("batch_shards", 1),
    ]:
        require_int(training, "training", key, minimum)
    require_number(training, "training", "beta", positive=False)
    if not isinstance(training.get("resume"), bool):
        raise _fail("training.resume", training.get("resume"), "true or false")
    if training.get("verbose") not in ("auto", 0, 1, 2):
        raise _fail("training.verbose", training.get("verbose"), '"auto", 0, 1 or 2')


def validate_data_processing_parameters(data_processing: Mapping[str, Any]) -> None:
    """Raise InvalidParameterError for the first unusable value in `data_processing`."""
    for key in ("max_train", "max_test"):
        if data_processing.get(key) is not None:
            require_int(data_processing, "data_processing", key, 1)
    require_int(data_processing, "data_processing", "validation_size", 1)


def validate_evaluate_parameters(evaluate: Mapping[str, Any]) -> None:
    """Raise InvalidParameterError for the first unusable value in the `evaluate` section."""
    for key, minimum in [
        ("batch_size", 1),
        ("iwae_samples", 1),
        ("knn_k", 1),
        # A Fréchet distance needs a covariance, so at least two generated images.
        ("n_generated", 2),
    ]:
        require_int(evaluate, "evaluate", key, minimum)
    n_samples = evaluate.get("n_samples")
    iwae_samples = evaluate["iwae_samples"]
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, int)
        or not 1 <= n_samples <= iwae_samples
    ):
        raise _fail(
            "evaluate.n_samples",
            n_samples,
            f"an integer from 1 to evaluate.iwae_samples ({iwae_samples}): the ELBO reuses "
            "the first n_samples of the importance samples",
        )
    if evaluate.get("max_train_features") is not None:
        require_int(evaluate, "evaluate", "max_train_features", evaluate["knn_k"])


def validate_feature_classifier_parameters(feature_classifier: Mapping[str, Any]) -> None:
    """Raise InvalidParameterError for the first unusable value in `feature_classifier`."""
    section = "feature_classifier"
    # Each block halves the side with a 2×2 max-pool: 28 → 14 → 7 → 3 allows at most three.
    _require_int_list(feature_classifier, section, "conv_filters", range(1, 4))
    for key in ("dense_units", "batch_size", "epochs"):
        require_int(feature_classifier, section, key, 1)
    require_number(feature_classifier, section, "learning_rate", positive=True)
    dropout = require_number(feature_classifier, section, "dropout", positive=False)
    if dropout >= 1:
        raise _fail(f"{section}.dropout", dropout, "a number ≥ 0 and < 1")
    if feature_classifier.get("verbose") not in ("auto", 0, 1, 2):
        raise _fail(f"{section}.verbose", feature_classifier.get("verbose"), '"auto", 0, 1 or 2')


def validate_report_parameters(report: Mapping[str, Any]) -> None:
    """Raise InvalidParameterError for the first unusable value in `report`."""
    for key, minimum in [
        ("interpolation_rows", 1),
        ("interpolation_steps", 2),
        ("traversal_dimensions", 1),
        ("traversal_steps", 2),
        ("tsne_points", 0),
    ]:
        require_int(report, "report", key, minimum)
    if 0 < report["tsne_points"] < 10:
        raise _fail("report.tsne_points", report["tsne_points"], "0 (off) or at least 10")


def validate_tensorflow_threads_parameters(tensorflow_threads: Mapping[str, Any]) -> None:
    """Raise InvalidParameterError unless both thread counts are null or a positive integer."""
    for key in ("intra_op", "inter_op"):
        if tensorflow_threads.get(key) is not None:
            require_int(tensorflow_threads, "tensorflow_threads", key, 1)


# Each section of the parameters and its check, run by the preflight hook before any node.
VALIDATORS = {
    "data_processing": validate_data_processing_parameters,
    "training": validate_training_parameters,
    "feature_classifier": validate_feature_classifier_parameters,
    "evaluate": validate_evaluate_parameters,
    "report": validate_report_parameters,
}
