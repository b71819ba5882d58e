"""Project commands: Kedro's own `kedro run`, with the cache on by default (docs/guide.md,
"Caching").

Kedro lets a project's `cli.py` override its commands. This `run` is Kedro's `run` command
object with its options, parsing, deprecations and session handling untouched. It changes
two things:

- `--runner` defaults to `fashion_vae.cache.CachingRunner`, and Kedro's own runner names
  (`SequentialRunner`, `ThreadRunner`, `ParallelRunner`) get their caching versions. A dotted
  path is used as given, so `--runner kedro.runner.SequentialRunner` is plain Kedro, no cache.
- `--no-cache` runs every node and still records fingerprints: it is
  `--runner-params enabled=false`, which works with Kedro's unmodified `run` too.

The caching runners find their manifest in the catalog (`cache_manifest`), since Kedro builds
the runner before the session has a context.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import CONTEXT_SETTINGS, env_option
from kedro.io import DatasetError
from kedro.utils import find_kedro_project, load_obj
from kedro.validation import ParameterValidationError

from fashion_vae.cache import (
    CacheMixin,
    CachingDaskRunner,
    CachingParallelRunner,
    CachingRunner,
    CachingThreadRunner,
)
from fashion_vae.cache.prune import prune
from fashion_vae.errors import ProjectError

RUNNER_HELP = """The runner: 'SequentialRunner' (default), 'ThreadRunner', 'ParallelRunner' or
'DaskRunner' (a Dask cluster: --runner-params address=tcp://HOST:8786, or DASK_SCHEDULER_ADDRESS,
or else local worker processes), each with the cache, or the dotted path of any runner class,
used as given."""
NO_CACHE_HELP = """Run every node instead of reusing those whose code, parameters and inputs
are unchanged. Fingerprints are still recorded, so the next cached run can reuse this one's
outputs. The same as `--runner-params enabled=false`."""
# What a run can expect to go wrong, and explains in its message: shown without a traceback.
# Anything else is a bug and keeps its traceback.
EXPECTED_ERRORS = (ProjectError, ParameterValidationError, DatasetError)
# How Kedro's Pipeline begins refusing a --nodes or --namespaces value that names nothing.
NOTHING_NAMED = "Pipeline does not contain nodes"
# Kedro's runner names → the dotted path of the same runner with the cache.
CACHING_RUNNERS = {
    "SequentialRunner": f"fashion_vae.cache.{CachingRunner.__name__}",
    "ThreadRunner": f"fashion_vae.cache.{CachingThreadRunner.__name__}",
    "ParallelRunner": f"fashion_vae.cache.{CachingParallelRunner.__name__}",
    "DaskRunner": f"fashion_vae.cache.{CachingDaskRunner.__name__}",
}


@click.group(context_settings=CONTEXT_SETTINGS, name=__file__)
def cli() -> None:
    """Command line tools for the fashion_vae project."""


def _run(
    *, runner: str | None, runner_params: dict[str, Any], no_cache: bool, **options: Any
) -> Any:
    """Kedro's `run`, with a caching runner unless `--runner` names another by dotted path."""
    runner = CACHING_RUNNERS.get(runner or "SequentialRunner", runner)
    if no_cache:
        if not issubclass(load_obj(runner, "kedro.runner"), CacheMixin):
            raise click.UsageError(f"--no-cache needs a caching runner, not {runner}")
        runner_params = {**runner_params, "enabled": False}
    try:
        return kedro_run.callback(runner=runner, runner_params=runner_params, **options)
    except EXPECTED_ERRORS as error:
        raise click.ClickException(_explained(error)) from error
    except ValueError as error:
        # Kedro's own refusal of a --nodes or --namespaces value that names nothing.
        if not str(error).startswith(NOTHING_NAMED):
            raise
        raise click.ClickException(_what_there_is(error, options.get("pipelines"))) from None


def _what_there_is(error: ValueError, pipeline_names: Iterable[str] | None) -> str:
    """Kedro's message, and the namespaces or nodes the run's pipelines do have."""
    from kedro.framework.project import pipelines  # noqa: PLC0415 - the session loaded them

    names = list(pipeline_names or ()) or ["__default__"]
    nodes = [node for name in names if name in pipelines for node in pipelines[name].nodes]
    if "namespaces" in str(error):
        there = sorted({node.namespace.split(".")[0] for node in nodes if node.namespace})
        return f"{error}. The namespaces there are: {', '.join(there) or 'none'}"
    return f"{error}\nThe nodes there are: {', '.join(sorted(node.name for node in nodes))}"


def _explained(error: BaseException) -> str:
    """The error's message and its notes (which node, which files), as one short text."""
    return "\n".join([str(error), *getattr(error, "__notes__", ())])


def _options() -> list[click.Parameter]:
    """Kedro's `run` options (copies, so Kedro's command keeps its own), and `--no-cache`."""
    options = [copy.copy(option) for option in kedro_run.params]
    for option in options:
        if option.name == "runner":
            option.help = RUNNER_HELP
    return [*options, click.Option(["--no-cache"], is_flag=True, help=NO_CACHE_HELP)]


def _kedro_run_option(name: str) -> click.Parameter:
    """A copy of one of Kedro's `run` options (its parsing included), by name."""
    return copy.copy(next(option for option in kedro_run.params if option.name == name))


@click.command("explore", context_settings=CONTEXT_SETTINGS)
@env_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to serve on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="The port."
)
def explore(
    env: str | None,
    host: str,
    port: int,
    load_versions: dict[str, str],
    params: dict[str, Any],
) -> None:
    """Serve a web page over the latest (or pinned) model's latent space, on this machine."""
    # Imported here: they load TensorFlow and Gradio, which `kedro --help` should not.
    from fashion_vae.explorer.launcher import launch  # noqa: PLC0415
    from fashion_vae.explorer.loading import load_explorer, load_login  # noqa: PLC0415

    project = find_kedro_project(Path.cwd())
    try:
        explorer = load_explorer(project, env, load_versions, params)
        login = load_login(project, env)
    except EXPECTED_ERRORS as error:
        raise click.ClickException(_explained(error)) from error
    try:
        app = launch(explorer, host, port, login)
    except OSError as error:
        raise click.ClickException(f"cannot serve on {host}:{port}: {error}") from error
    click.echo(f"Fashion VAE explorer: {app.local_url} (Ctrl+C stops it)")
    app.block_thread()


explore.params.extend(_kedro_run_option(name) for name in ("load_versions", "params"))

run = click.Command(
    "run",
    context_settings=kedro_run.context_settings,
    callback=_run,
    params=_options(),
    help="Run the pipeline, reusing every node whose code, parameters and inputs are unchanged.",
)
cli.add_command(run)
cli.add_command(prune)
cli.add_command(explore)
