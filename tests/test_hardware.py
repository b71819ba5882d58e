"""What `auto` resolves to: the dtype policy, the batch split and TensorFlow's threads.

The rules are tested on faked CPUs, GPUs and core counts, so that no real hardware is needed;
the real machine's resolution is tested through the training log and the start-up import.
"""

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from configs import vae_config
from pydantic import ValidationError

from fashion_vae.datasets import TensorFlowModelDataset
from fashion_vae.model import build_vae
from fashion_vae.parameters import TrainingParameters
from fashion_vae.runtime import hardware
from fashion_vae.runtime.tensorflow_threads import TensorFlowThreads

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
ZEN4 = AVX2 | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = AVX2 | {"avx512f", "amx_bf16", "amx_tile"}


def cpu(flags: frozenset[str] = AVX2, cores: int = 2, architecture: str = "x86_64") -> hardware.CPU:
    return hardware.CPU("Test CPU", flags, cores, architecture)


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        (cpu(AVX2), "float32"),
        (cpu(ZEN4), "mixed_bfloat16"),
        (cpu(SAPPHIRE_RAPIDS), "mixed_bfloat16"),
        # ARMv8.6's bf16 is not measured here: float32, the safe choice.
        (cpu(frozenset({"fp", "asimd", "bf16"}), architecture="aarch64"), "float32"),
        # The flag names are x86's: another architecture never matches them by accident.
        (cpu(ZEN4, architecture="aarch64"), "float32"),
    ],
)
def test_auto_dtype_on_a_cpu_is_bfloat16_only_where_it_is_native(
    machine: hardware.CPU, expected: str
) -> None:
    choice = hardware.dtype_policy("auto", cpu=machine, gpus=())
    assert choice.value == expected
    assert "Test CPU" in choice.reason


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        (((8, 0),), "mixed_bfloat16"),
        (((9, 0), (9, 0)), "mixed_bfloat16"),
        (((7, 5),), "float32"),
        (((8, 6), (7, 0)), "float32"),
    ],
)
def test_auto_dtype_with_gpus_follows_their_compute_capability(
    gpus: tuple[tuple[int, int], ...], expected: str
) -> None:
    # The GPU decides, whatever the CPU has.
    for machine in (cpu(AVX2), cpu(ZEN4)):
        choice = hardware.dtype_policy("auto", cpu=machine, gpus=gpus)
        assert choice.value == expected
        assert "compute capability" in choice.reason


@pytest.mark.parametrize("explicit", ["float32", "mixed_bfloat16"])
def test_an_explicit_dtype_policy_keeps_its_meaning(explicit: str) -> None:
    for machine in (cpu(AVX2), cpu(ZEN4)):
        for gpus in ((), ((7, 0),), ((9, 0),)):
            choice = hardware.dtype_policy(explicit, cpu=machine, gpus=gpus)
            assert choice == hardware.Choice(explicit, "as configured")


@pytest.mark.parametrize(
    ("cores", "gpus", "shards"),
    [(1, (), 1), (2, (), 2), (16, (), 2), (2, ((8, 0),), 1), (64, ((7, 0),), 1)],
)
def test_auto_batch_shards_split_a_cpu_batch_in_two_from_two_cores(
    cores: int, gpus: tuple[tuple[int, int], ...], shards: int
) -> None:
    assert hardware.batch_shards("auto", cpu=cpu(cores=cores), gpus=gpus).value == shards
    assert hardware.batch_shards(3, cpu=cpu(cores=cores), gpus=gpus).value == 3


@pytest.mark.parametrize(
    ("cores", "intra_op", "inter_op"), [(1, 1, 1), (2, 1, 2), (3, 1, 2), (8, 4, 2), (16, 8, 2)]
)
def test_auto_threads_run_the_two_halves_side_by_side_on_all_cores(
    cores: int, intra_op: int, inter_op: int
) -> None:
    intra, inter = hardware.tensorflow_threads("auto", "auto", cores=cores)
    assert (intra.value, inter.value) == (intra_op, inter_op)
    assert intra.value * inter.value <= cores
    # Explicit values and null (TensorFlow's default) keep their meaning.
    intra, inter = hardware.tensorflow_threads(3, None, cores=cores)
    assert (intra.value, inter.value) == (3, None)


@pytest.mark.parametrize(
    ("dimensions", "cores", "threads"),
    [(17, 2, 1), (63, 8, 1), (64, 2, 2), (195, 8, 8), (195, 1, 1)],
)
def test_auto_mixture_threads_use_every_core_only_for_many_dimensions(
    dimensions: int, cores: int, threads: int
) -> None:
    chosen = hardware.mixture_threads("auto", dimensions, cores=cores)
    assert chosen.value == threads
    assert f"{dimensions} dimensions" in chosen.reason
    assert hardware.mixture_threads(3, dimensions, cores=cores) == hardware.Choice(
        3, "as configured"
    )


def test_this_cpu_counts_the_cores_the_process_may_use() -> None:
    script = textwrap.dedent(
        """
        import os
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        from fashion_vae.runtime import hardware
        print(hardware.this_cpu().cores, hardware.batch_shards("auto", gpus=()).value)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]
    assert hardware.this_cpu().cores == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        ("training", "dtype_policy", "float16", "'auto', 'float32' or 'mixed_bfloat16'"),
        ("training", "batch_shards", "many", "'auto'"),
        ("tensorflow_threads", "intra_op", "lots", "'auto'"),
    ],
)
def test_an_unknown_auto_setting_is_refused_naming_it_and_the_allowed_values(
    section: str, key: str, value: str, allowed: str
) -> None:
    settings = {
        "preset": "default",
        "checkpoint_dir": "unused",
        "presets": {"default": {"batch_size": 64, "epochs": 2, "learning_rate": 0.001}},
    }
    if section == "training" and key == "dtype_policy":
        settings["presets"]["default"][key] = value
        model = TrainingParameters
    elif section == "training":
        settings[key] = value
        model = TrainingParameters
    else:
        settings, model = {key: value}, TensorFlowThreads
    with pytest.raises(ValidationError) as refusal:
        model.model_validate(settings)
    message = str(refusal.value)
    assert key in message and allowed in message and section in message


def test_importing_the_settings_loads_no_heavy_library() -> None:
    # Every `kedro` command imports settings.py: it must start in a second, not in ten.
    heavy = ("tensorflow", "keras", "mlflow", "sklearn", "kedro_mlflow", "matplotlib")
    script = (
        "import sys, fashion_vae.settings; "
        f"print('loaded:', *(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "loaded:"


def test_a_stored_bfloat16_model_computes_in_float32_where_bfloat16_is_emulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = vae_config(4, encoder_filters=[4, 8], decoder_filters=[8, 4])
    bf16 = build_vae(config.model_copy(update={"dtype_policy": "mixed_bfloat16"}), seed=1)
    float32 = build_vae(config, seed=1, batch_shards=1)
    float32.set_weights(bf16.get_weights())
    bf16.batch_shards = 7
    path = tmp_path / "vae.keras"
    bf16.save(path)
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    monkeypatch.setattr(hardware, "gpu_capabilities", lambda: ())

    monkeypatch.setattr(hardware, "this_cpu", lambda: cpu(AVX2, cores=1))
    with caplog.at_level(logging.INFO):
        here = TensorFlowModelDataset(filepath=str(path)).load()
    assert "mixed_bfloat16 layers compute in float32" in caplog.text
    assert {layer.compute_dtype for layer in here.encoder.layers + here.decoder.layers} == {
        "float32"
    }
    assert here.batch_shards == 1  # this machine's split, not the stored one
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(here.reconstruct(images)),
        keras.ops.convert_to_numpy(float32.reconstruct(images)),
    )

    # Where bfloat16 is native the stored policy stays, and float32 is never rounded down.
    monkeypatch.setattr(hardware, "this_cpu", lambda: cpu(ZEN4, cores=2))
    native = TensorFlowModelDataset(filepath=str(path)).load()
    assert native.encoder.get_layer("conv_0").compute_dtype == "bfloat16"
    assert native.batch_shards == 2
    float32.save(tmp_path / "float32.keras")
    kept = TensorFlowModelDataset(filepath=str(tmp_path / "float32.keras")).load()
    assert kept.encoder.get_layer("conv_0").compute_dtype == "float32"


def test_a_model_server_gets_one_worker_per_core_unless_told() -> None:
    assert hardware.serving_workers("auto", cores=2).value == 2
    assert hardware.serving_workers("auto", cores=1).value == 1
    assert hardware.serving_workers("auto", cores=64).value == hardware.MAX_SERVING_WORKERS
    assert hardware.serving_workers("3", cores=2) == hardware.Choice(3, "as configured")
