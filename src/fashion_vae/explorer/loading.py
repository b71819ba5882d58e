"""The explorer's inputs, loaded through the project's catalog as `kedro run` would load them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from pydantic import ValidationError

from fashion_vae.errors import MissingInputError, ProjectError
from fashion_vae.parameters import ExploreParameters

from .explorer import Explorer, build_explorer

# build_explorer's argument → the catalog dataset it is, and the pipeline that writes it.
INPUTS = {
    "vae": ("vae_model", "training"),
    "latent_density": ("latent_density", "latent_density"),
    "train_posterior_mean": ("train_posterior_mean", "latent_density"),
    "train_images": ("model_input_train", "data_processing"),
    "train_labels": ("model_input_train_labels", "data_processing"),
    "test_images": ("model_input_test", "data_processing"),
    "test_labels": ("test_labels", "data_processing"),
}


def load_explorer(
    project_path: Path,
    env: str | None,
    load_versions: dict[str, str],
    runtime_params: dict[str, Any] | None = None,
) -> Explorer:
    """The explorer of the latest stored model and density, or of the versions pinned."""
    bootstrap_project(project_path)
    with KedroSession.create(
        project_path=project_path, env=env, runtime_params=runtime_params
    ) as session:
        context = session.load_context()
    catalog = context.catalog
    datasets = {name for name, _ in INPUTS.values()}
    if unknown := sorted(set(load_versions) - datasets):
        raise ProjectError(
            f"--load-versions pins {', '.join(unknown)}, which the explorer does not read; it "
            f"reads {', '.join(sorted(datasets))}"
        )
    for name, pipeline in INPUTS.values():
        if name not in load_versions and not catalog.exists(name):
            env_option = f" --env={env}" if env else ""
            raise MissingInputError(
                f"{name} does not exist: run `kedro run --pipelines={pipeline}{env_option}` first"
            )
    try:
        params = ExploreParameters.model_validate(context.params["explore"])
    except ValidationError as error:
        # As Kedro refuses a run's bad parameter: the section, the key and what is allowed.
        raise ProjectError(f"Invalid parameters_explore.yml: {error}") from error
    loaded = {
        argument: catalog.load(name, version=load_versions.get(name))
        for argument, (name, _) in INPUTS.items()
    }
    return build_explorer(**loaded, params=params)


# The credentials entry (conf/local/credentials.yml, never committed) of the explorer's login.
LOGIN_CREDENTIALS = "explorer_login"


def load_login(project_path: Path, env: str | None) -> tuple[str, str] | None:
    """The explorer's login from the environment's credentials (`explorer_login`: `username`,
    `password`; `${oc.env:VARIABLE}` reads one from the environment), or None."""
    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        try:
            credentials = session.load_context().config_loader["credentials"]
        except MissingConfigException:  # no credentials file: no login
            return None
    login = credentials.get(LOGIN_CREDENTIALS)
    if login is None:
        return None
    if not isinstance(login, dict) or not login.get("username") or not login.get("password"):
        raise ProjectError(
            f"credentials {LOGIN_CREDENTIALS} must have a username and a password, e.g.\n"
            f"{LOGIN_CREDENTIALS}:\n  username: ada\n  password: ${{oc.env:EXPLORER_PASSWORD}}"
        )
    return str(login["username"]), str(login["password"])
