"""TensorFlow's thread pools are sized from the parameters, before TensorFlow starts."""

import logging
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf
from pydantic import ValidationError

from fashion_vae.hooks import TensorFlowThreadsHook
from fashion_vae.runtime.tensorflow_threads import apply_tensorflow_threads


def test_a_fresh_process_gets_the_configured_pools() -> None:
    script = textwrap.dedent(
        """
        import tensorflow as tf
        from fashion_vae.runtime.tensorflow_threads import apply_tensorflow_threads
        apply_tensorflow_threads({"intra_op": 1, "inter_op": 3})
        tf.constant(1.0) + 1.0  # starts TensorFlow with those pools
        print(tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1", "3"]


def test_null_leaves_tensorflows_default() -> None:
    script = textwrap.dedent(
        """
        import tensorflow as tf
        from fashion_vae.runtime.tensorflow_threads import apply_tensorflow_threads
        apply_tensorflow_threads({"intra_op": None, "inter_op": None})
        print(tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["0", "0"]


@pytest.mark.parametrize(("cores", "expected"), [(1, ["1", "1"]), (2, ["1", "2"])])
def test_auto_sizes_the_pools_of_a_run_from_its_cores_before_tensorflow_is_imported(
    cores: int, expected: list[str]
) -> None:
    if len(os.sched_getaffinity(0)) < cores:
        pytest.skip(f"this machine lets the tests use fewer than {cores} cores")
    script = textwrap.dedent(
        f"""
        import os, sys
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:{cores}])
        from fashion_vae.runtime.tensorflow_threads import apply_tensorflow_threads
        apply_tensorflow_threads({{"intra_op": "auto", "inter_op": "auto"}})
        assert "tensorflow" not in sys.modules
        # What TensorFlow reads when it creates its pools.
        print(os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == expected


def test_a_running_tensorflow_keeps_its_pools_with_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Restored afterwards: the call writes what the next TensorFlow of this process would read.
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    tf.constant(1.0) + 1.0  # noqa: B018 - makes sure TensorFlow is running in this process
    before = tf.config.threading.get_intra_op_parallelism_threads()
    with caplog.at_level(logging.WARNING):
        apply_tensorflow_threads({"intra_op": before + 5, "inter_op": None})
    assert tf.config.threading.get_intra_op_parallelism_threads() == before
    assert f"tensorflow_threads.intra_op = {before + 5} not applied" in caplog.text


@pytest.mark.parametrize("value", [0, -1, 1.5, "two"])
def test_bad_thread_counts_are_refused_by_name(value: object) -> None:
    with pytest.raises(
        ValidationError, match=r"for tensorflow_threads\ninter_op\.\S+\n  Input should"
    ) as refusal:
        apply_tensorflow_threads({"intra_op": 1, "inter_op": value})
    assert "Input should be 'auto'" in str(refusal.value)


def test_the_hook_applies_the_parameters_of_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    applied = []
    monkeypatch.setattr("fashion_vae.hooks.runs.apply_tensorflow_threads", applied.append)

    class Catalog:
        def __contains__(self, name: str) -> bool:
            return name == "params:tensorflow_threads"

        def load(self, name: str) -> dict:
            return {"intra_op": 1, "inter_op": 2}

    TensorFlowThreadsHook().before_pipeline_run(run_params={}, catalog=Catalog())
    assert applied == [{"intra_op": 1, "inter_op": 2}]
