"""Project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

from kedro.config import OmegaConfigLoader

from fashion_vae.hooks import MissingInputsHook, NodeTimingHook, TensorFlowThreadsHook

HOOKS = (MissingInputsHook(), TensorFlowThreadsHook(), NodeTimingHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment overrides single keys (e.g. training.latent_dim) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "globals": "soft"},
}
