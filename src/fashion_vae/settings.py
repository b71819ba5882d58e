"""Project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

from kedro.config import OmegaConfigLoader

from fashion_vae.hooks import (
    ErrorContextHook,
    MissingInputsHook,
    NodeTimingHook,
    RawDataIdentityHook,
    RunLockHook,
    TensorFlowThreadsHook,
)

# Pluggy calls the last registered first: before the first node, the missing inputs, then the
# raw files' identity are checked, and only then is the output folder's lock taken.
HOOKS = (
    RunLockHook(),
    ErrorContextHook(),
    NodeTimingHook(),
    TensorFlowThreadsHook(),
    RawDataIdentityHook(),
    MissingInputsHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment overrides single keys (e.g. training.latent_dim) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "globals": "soft"},
}
