"""Project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

from fashion_vae.hooks import (
    ErrorContextHook,
    LoadVersionsHook,
    MissingInputsHook,
    NodeTimingHook,
    RawDataIdentityHook,
    RunLockHook,
    TensorFlowThreadsHook,
    TrackingHook,
)
from fashion_vae.hooks.upstream_warnings import ignore_upstream_warnings
from fashion_vae.pipelines.sweep.members import ProjectConfigLoader, SweepMembersHook

# Before Kedro, kedro-mlflow and MLflow raise them: libraries' warnings about their own code.
ignore_upstream_warnings()

# Pluggy calls the last registered first: before the first node, the missing inputs, then the
# raw files' identity are checked, and only then is the output folder's lock taken; under it,
# the run's --load-versions pins are recorded for `kedro prune`.
# The MLflow run is opened last, so that a refused run leaves no run behind; TrackingHook
# records a run's outputs before every other hook's after_pipeline_run (tryfirst), under the lock.
HOOKS = (
    TrackingHook(),
    LoadVersionsHook(),
    RunLockHook(),
    ErrorContextHook(),
    NodeTimingHook(),
    TensorFlowThreadsHook(),
    RawDataIdentityHook(),
    MissingInputsHook(),
    # Before any other hook reads the parameters: the registry builds the sweep's members then.
    SweepMembersHook(),
)

# kedro-mlflow's hook is registered above, in its place, not by its plugin entry point (which
# pluggy knows by its distribution's name, kedro_mlflow).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

# Kedro's OmegaConfigLoader, with each sweep member's training parameters
# (fashion_vae.pipelines.sweep.members).
CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment overrides single keys (e.g. training.latent_dim) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "globals": "soft", "mlflow": "soft"},
}
