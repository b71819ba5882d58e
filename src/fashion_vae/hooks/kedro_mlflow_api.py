"""kedro-mlflow's protected members of `MlflowHook`, which the tracking hook extends, fenced here.

Written against kedro-mlflow 2.0.3. `fashion_vae.hooks.tracking.MlflowTrackingHook` subclasses
kedro-mlflow's hook and needs two of its protected members: whether mlflow.yml enables tracking
for this run (`_is_mlflow_enabled`), and the helper that logs a parameter over MLflow's length
limit as mlflow.yml's `long_params_strategy` says (`_log_param`). kedro-mlflow has no public
equivalent. Nothing else names them, and tests/test_tracking.py checks both against the installed
kedro-mlflow, so that an upgrade that changes them fails there, loudly.
"""

from typing import Any

from kedro_mlflow.framework.hooks import MlflowHook


def is_mlflow_enabled(hook: MlflowHook) -> bool:
    """Whether kedro-mlflow tracks this run (mlflow.yml's `disable_tracking` leaves it out)."""
    return hook._is_mlflow_enabled


def log_long_param(hook: MlflowHook, name: str, value: Any) -> None:
    """Log a parameter over MLflow's length limit as mlflow.yml's `long_params_strategy` says."""
    hook._log_param(name, value)
