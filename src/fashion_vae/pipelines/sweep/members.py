"""The sweep's members: their training parameters, and which members a pipeline is built for.

`sweep.members` lists settings of the `training` section, one member each (docs/guide.md, "The
latent-space sweep"). Each member is a namespace: Kedro gives its copy of the training node
the parameter `params:<member>.training`, which `ProjectConfigLoader` adds to the parameters:
the run's `training` section (with the environment's and `--params`' overrides) updated with
the member's settings and its own checkpoint folder. Kedro then validates it, the cache
fingerprints it and `--params <member>.training.<key>=...` reaches it like any parameter.

A pipeline's nodes are fixed when it is registered, before any node runs, so the registry
needs the members too: `SweepMembersHook` hands the session's configuration (its environment
and `--params`) to the registry as soon as the context exists; without a session (`kedro
viz`, say) the project's configuration is read for the environment `KEDRO_ENV` names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from kedro.config import AbstractConfigLoader, MissingConfigException, OmegaConfigLoader
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from omegaconf import OmegaConf
from pydantic import ValidationError

from fashion_vae.errors import ProjectError
from fashion_vae.parameters import SweepParameters

logger = logging.getLogger(__name__)
SECTION = "sweep"


class SweepConfigError(ProjectError):
    """A sweep member that cannot be given its own parameters."""


class Member(NamedTuple):
    """A member of the sweep, as the registry builds its nodes."""

    name: str
    latent_dim: int


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied, nested mappings merged key by key (a new dict)."""
    # OmegaConf's merge, as Kedro's own config loader merges environments.
    return OmegaConf.to_container(OmegaConf.merge(dict(base), dict(changes)))


def with_member_parameters(
    parameters: dict[str, Any], runtime_params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`parameters` with a `<member>: {training: ...}` section for each sweep member."""
    sweep, training = parameters.get(SECTION), parameters.get("training")
    if not isinstance(sweep, Mapping) or not isinstance(training, Mapping):
        return parameters
    # Kedro merges --params into conf/base before an environment's files: apply them again,
    # so that `--env=test --params training.x=...` reaches the members as it reaches training.
    training = _merged(training, (runtime_params or {}).get("training") or {})
    parameters = dict(parameters)  # a new mapping: the loader may hand the same one out again
    for member in sweep.get("members") or ():
        name, changes = member.get("name"), member.get("training") or {}
        if not isinstance(name, str) or not isinstance(changes, Mapping):
            continue  # SweepParameters names the problem when the sweep's nodes validate it
        if name in parameters:
            raise SweepConfigError(
                f"sweep member {name!r} has the name of the parameter section {name!r}; "
                "give it another name in sweep.members"
            )
        settings = _merged(training, changes)
        if "checkpoint_dir" not in changes:
            # Members train side by side under ParallelRunner: each resumes only itself.
            settings["checkpoint_dir"] = f"{training.get('checkpoint_dir')}_{name}"
        parameters[name] = {"training": settings}
    return parameters


class ProjectConfigLoader(OmegaConfigLoader):
    """Kedro's OmegaConfigLoader; the parameters gain each sweep member's `training` section."""

    def __getitem__(self, key: str) -> Any:
        config = super().__getitem__(key)
        if key == "parameters":
            return with_member_parameters(config, self.runtime_params)
        return config


_session_config: AbstractConfigLoader | None = None


class SweepMembersHook:
    """Hand the session's configuration to the registry before it builds the sweep."""

    # First: another hook may read `context.params`, which registers the pipelines.
    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        global _session_config  # noqa: PLW0603 - the registry has no other way to the session
        _session_config = context.config_loader

    # Once the run is over, a registry built later (in the same process) reads the project.
    @hook_impl
    def after_pipeline_run(self) -> None:
        global _session_config  # noqa: PLW0603
        _session_config = None

    @hook_impl
    def on_pipeline_error(self) -> None:
        self.after_pipeline_run()


def _project_config() -> AbstractConfigLoader:
    """The configuration of the running session, or else the project's for KEDRO_ENV."""
    if _session_config is not None:
        return _session_config
    from kedro.framework.project import settings  # noqa: PLC0415 - configured by then

    return ProjectConfigLoader(
        conf_source=str(Path.cwd() / settings.CONF_SOURCE),
        env=os.environ.get("KEDRO_ENV"),
        **settings.CONFIG_LOADER_ARGS,
    )


def configured_members() -> list[Member]:
    """The sweep's members, as this run's parameters list them (none if they are invalid)."""
    try:
        parameters = _project_config()["parameters"]
        sweep = SweepParameters.model_validate(parameters.get(SECTION))
    except (ValidationError, SweepConfigError, MissingConfigException, OSError) as error:
        # The sweep's nodes validate `params:sweep` before any node runs, naming the problem;
        # other pipelines need not fail to register meanwhile.
        logger.warning("No sweep members: %s", str(error).splitlines()[0])
        return []
    return [
        Member(member.name, int(parameters[member.name]["training"].get("latent_dim", 0)))
        for member in sweep.members
    ]
