"""Kedro's protected runner API as fashion_vae.cache.kedro_runner_api uses it: fails on a change."""

import inspect

import pytest
from kedro.runner import AbstractRunner, ParallelRunner, SequentialRunner, ThreadRunner
from kedro.runner.task import Task

from fashion_vae.cache import kedro_runner_api

# Each protected method the fence calls, and the parameters it passes, in order.
CALLED = {
    "_validate_catalog": ["catalog"],
    "_validate_nodes": ["node"],
    "_set_manager_datasets": ["catalog"],
    "_get_executor": ["max_workers"],
    "_get_required_workers_count": ["pipeline"],
    "_release_datasets": ["node", "catalog", "load_counts", "pipeline"],
    "_suggest_resume_scenario": ["pipeline", "done_nodes", "catalog"],
}


@pytest.mark.parametrize("runner_class", [SequentialRunner, ThreadRunner, ParallelRunner])
@pytest.mark.parametrize("method", sorted(CALLED))
def test_each_protected_method_keeps_its_parameters(
    runner_class: type[AbstractRunner], method: str
) -> None:
    parameters = list(inspect.signature(getattr(runner_class, method)).parameters)
    # ParallelRunner makes two of them static methods, without `self`.
    positional = [name for name in parameters if name != "self"]
    # Kedro names the one parameter of _validate_nodes `node` in some classes, `nodes` in others.
    expected = ["nodes"] if method == "_validate_nodes" and "nodes" in positional else None
    assert positional == (expected or CALLED[method]), f"{runner_class.__name__}.{method}"


def test_the_async_flag_is_still_kept_where_the_fence_reads_it() -> None:
    assert kedro_runner_api.is_async(SequentialRunner(is_async=True)) is True
    assert kedro_runner_api.is_async(SequentialRunner(is_async=False)) is False


def test_a_sequential_runner_still_runs_in_the_calling_thread() -> None:
    from kedro.pipeline import Pipeline, node  # noqa: PLC0415

    pipeline = Pipeline([node(lambda: 1, None, "one", name="one")])
    assert kedro_runner_api.executor(SequentialRunner(), pipeline) is None


def test_kedro_still_configures_a_worker_by_its_start_method() -> None:
    # The spawned workers are configured by configure_worker, which sets the start method
    # that makes Task skip its own configuration: that test must still be Kedro's.
    assert "get_start_method" in inspect.getsource(Task._run_node_synchronization)
