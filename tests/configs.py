"""Parameter sections as conf/base writes them, with a test's changes: the YAML stays the one
source of every value, in the tests too."""

from pathlib import Path
from typing import Any

from fashion_vae.parameters import SECTIONS, Preset, VAEArchitecture, VAEConfig, base_parameters

BASE = base_parameters(Path(__file__).resolve().parents[1] / "conf")


def section(name: str, **changes: Any) -> Any:
    """The validated `name` section of conf/base with `changes`."""
    return SECTIONS[name].model_validate({**BASE[name], **changes})


def vae_config(latent_dim: int, preset: str = "textbook", **changes: Any) -> VAEConfig:
    """A preset's architecture of conf/base (the book's model by default) with this latent size
    and `changes`."""
    architecture = {
        key: value
        for key, value in BASE["training"]["presets"][preset].items()
        if key in VAEArchitecture.model_fields
    }
    return VAEConfig(latent_dim=latent_dim, **{**architecture, **changes})


def textbook_preset(**changes: Any) -> Preset:
    """The textbook preset of conf/base with `changes`."""
    return Preset.model_validate({**BASE["training"]["presets"]["textbook"], **changes})
