"""Project commands: `kedro run` with the cache (see README, "Caching").

Kedro loads `cli` from `<package>.cli` and lets its commands override its own; the options of
`run` are Kedro's, copied from `kedro.framework.cli.project.run`, plus `--no-cache`.
"""

from __future__ import annotations

import warnings
from typing import Any

import click
from kedro import KedroDeprecationWarning
from kedro.framework.cli.project import (
    ASYNC_ARG_HELP,
    CONF_SOURCE_HELP,
    CONFIG_FILE_HELP,
    FROM_INPUTS_HELP,
    FROM_NODES_HELP,
    LOAD_VERSION_HELP,
    NAMESPACES_ARG_HELP,
    NODE_ARG_HELP,
    ONLY_MISSING_OUTPUTS_HELP,
    PARAMS_ARG_HELP,
    PIPELINE_ARG_HELP,
    PIPELINES_ARG_HELP,
    RUNNER_ARG_HELP,
    RUNNER_PARAMS_HELP,
    TAG_ARG_HELP,
    TO_NODES_HELP,
    TO_OUTPUTS_HELP,
    _resolve_runner_kwargs,
)
from kedro.framework.cli.utils import (
    CONTEXT_SETTINGS,
    KedroCliError,
    _config_file_callback,
    _split_load_versions,
    _split_params,
    env_option,
    split_node_names,
    split_string,
    validate_conf_source,
)
from kedro.framework.project import settings
from kedro.framework.session import KedroSession
from kedro.utils import load_obj

from fashion_vae.cache import make_runner

NO_CACHE_HELP = """Run every node instead of reusing those whose code, parameters and inputs
are unchanged. Fingerprints are still recorded, so the next cached run can reuse this one's
outputs."""


@click.group(context_settings=CONTEXT_SETTINGS, name=__file__)
def cli() -> None:
    """Command line tools for the fashion_vae project."""


@cli.command()
@click.option("--from-inputs", type=str, default="", help=FROM_INPUTS_HELP, callback=split_string)
@click.option("--to-outputs", type=str, default="", help=TO_OUTPUTS_HELP, callback=split_string)
@click.option("--from-nodes", type=str, default="", help=FROM_NODES_HELP, callback=split_node_names)
@click.option("--to-nodes", type=str, default="", help=TO_NODES_HELP, callback=split_node_names)
@click.option(
    "--nodes",
    "-n",
    "node_names",
    type=str,
    default="",
    help=NODE_ARG_HELP,
    callback=split_node_names,
)
@click.option("--runner", "-r", type=str, default=None, help=RUNNER_ARG_HELP)
@click.option("--async", "is_async", is_flag=True, help=ASYNC_ARG_HELP)
@click.option(
    "--runner-params",
    type=click.UNPROCESSED,
    default="",
    help=RUNNER_PARAMS_HELP,
    callback=_split_params,
)
@env_option
@click.option("--tags", "-t", type=str, default="", help=TAG_ARG_HELP, callback=split_string)
@click.option(
    "--load-versions",
    "-lv",
    type=str,
    default="",
    help=LOAD_VERSION_HELP,
    callback=_split_load_versions,
)
@click.option("--pipeline", "-p", type=str, default=None, help=PIPELINE_ARG_HELP)
@click.option("--pipelines", type=str, default="", help=PIPELINES_ARG_HELP, callback=split_string)
@click.option(
    "--namespaces",
    "-ns",
    type=str,
    default="",
    help=NAMESPACES_ARG_HELP,
    callback=split_node_names,
)
@click.option(
    "--config",
    "-c",
    type=click.Path(exists=True, dir_okay=False, resolve_path=True),
    help=CONFIG_FILE_HELP,
    callback=_config_file_callback,
)
@click.option("--conf-source", callback=validate_conf_source, help=CONF_SOURCE_HELP)
@click.option(
    "--params", type=click.UNPROCESSED, default="", help=PARAMS_ARG_HELP, callback=_split_params
)
@click.option("--only-missing-outputs", is_flag=True, help=ONLY_MISSING_OUTPUTS_HELP)
@click.option("--no-cache", is_flag=True, help=NO_CACHE_HELP)
def run(
    *,
    tags: list[str],
    env: str,
    runner: str | None,
    is_async: bool,
    runner_params: dict[str, Any],
    node_names: list[str],
    to_nodes: list[str],
    from_nodes: list[str],
    from_inputs: list[str],
    to_outputs: list[str],
    load_versions: dict[str, str] | None,
    pipeline: str | None,
    pipelines: list[str],
    config: str,
    conf_source: str,
    params: dict[str, Any],
    namespaces: list[str],
    only_missing_outputs: bool,
    no_cache: bool,
) -> dict[str, Any]:
    """Run the pipeline, reusing every node whose code, parameters and inputs are unchanged."""
    runner_class = load_obj(runner or "SequentialRunner", "kedro.runner")
    runner_kwargs = _resolve_runner_kwargs(is_async, runner_params)
    create_kwargs: dict[str, Any] = {"env": env, "conf_source": conf_source}
    run_kwargs: dict[str, Any] = {
        "tags": tuple(tags),
        "node_names": tuple(node_names),
        "from_nodes": from_nodes,
        "to_nodes": to_nodes,
        "from_inputs": from_inputs,
        "to_outputs": to_outputs,
        "load_versions": load_versions,
        "pipeline_names": _pipelines_to_run(pipeline, pipelines),
        "namespaces": namespaces,
        "only_missing_outputs": only_missing_outputs,
    }
    # As in Kedro's own command: KedroSession takes runtime parameters when created, the
    # service session when run.
    if issubclass(settings.SESSION_CLASS, KedroSession):
        create_kwargs["runtime_params"] = params
    else:
        run_kwargs["runtime_params"] = params

    with settings.SESSION_CLASS.create(**create_kwargs) as session:
        run_kwargs["runner"] = make_runner(
            session.load_context(), runner_class, enabled=not no_cache, **runner_kwargs
        )
        result: dict[str, Any] = session.run(**run_kwargs)
    return result


def _pipelines_to_run(pipeline: str | None, pipelines: list[str]) -> list[str]:
    """The pipelines named by `--pipeline` (deprecated) or `--pipelines`, as Kedro reads them."""
    if pipeline and pipelines:
        raise KedroCliError("Options '--pipeline' and '--pipelines' cannot be used together")
    if pipeline:
        warnings.warn(
            "Option '--pipeline' is deprecated and will be removed in a future release. "
            "Please use '--pipelines' instead.",
            KedroDeprecationWarning,
            stacklevel=2,
        )
        return [pipeline]
    return list(set(pipelines)) if pipelines else []
