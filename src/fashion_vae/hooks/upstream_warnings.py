"""Warnings that libraries raise about their own code, which this project cannot fix: ignored in
one place, each with its reason, for runs (imported by `fashion_vae.settings`); pyproject.toml's
`filterwarnings` lists the same for the test suite (tests/test_upstream_warnings.py checks that
they agree). Every warning caused by the project's own code stays visible."""

import logging
import warnings

# (message pattern, category, why it is the library's and not the project's)
UPSTREAM_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    (
        r"register_new_resolver\(\) is deprecated",
        UserWarning,
        "Kedro 1.7's OmegaConfigLoader and kedro-mlflow 2.0's hook register their resolvers "
        "with OmegaConf's deprecated function",
    ),
    (
        r".*Any type hint is inferred as AnyType",
        UserWarning,
        "MLflow checks the type hints of kedro-mlflow's PythonModels when kedro-mlflow is imported",
    ),
    (
        r"__array__ implementation doesn't accept a copy keyword",
        DeprecationWarning,
        "Keras' TensorFlow backend predates NumPy 2's copy keyword",
    ),
    (
        r"Support for class-based `config` is deprecated",
        DeprecationWarning,
        "kedro-mlflow 2.0's configuration models use Pydantic 1's class-based config",
    ),
    (
        r"Accessing the 'model_fields' attribute on the instance is deprecated",
        DeprecationWarning,
        "Kedro 1.7's parameter validation reads model_fields from the validated instance",
    ),
    (
        r"The ``noload`` loader strategy is deprecated",
        DeprecationWarning,
        "MLflow 3's SQL tracking store queries with SQLAlchemy's deprecated noload",
    ),
)


# Warnings that no filter can ignore, because the library turns them back on around the code that
# raises them (MLflow's `filter_user_warnings_once`): dropped from the log that Kedro writes
# warnings to (`logging.captureWarnings`), by their text.
# kedro-mlflow 2.0 defines its KedroPipelineModel, a PythonModel without type hints, when it is
# imported; the project's served models are not PythonModels.
UNFILTERABLE = ("Add type hints to the `predict` method",)


class _DropUnfilterable(logging.Filter):
    """Drop the captured warnings of `UNFILTERABLE`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in UNFILTERABLE)


def ignore_upstream_warnings() -> None:
    """Ignore each of `UPSTREAM_WARNINGS` in this process, and drop `UNFILTERABLE` from the log."""
    for message, category, _ in UPSTREAM_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    captured = logging.getLogger("py.warnings")
    if not any(isinstance(existing, _DropUnfilterable) for existing in captured.filters):
        captured.addFilter(_DropUnfilterable())
