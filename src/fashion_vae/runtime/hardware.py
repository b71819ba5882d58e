"""What `auto` means on this machine: the dtype policy, TensorFlow's threads and the batch split.

Each choice is resolved from the hardware when a run starts, logged once, and overridden by
an explicit parameter. The rules come from measurements (benchmarks/README.md, "Hardware
defaults"; `benchmarks/hardware_defaults.py` measures them on any machine):

- bfloat16 is fast only where the device computes it: an x86 CPU with AVX512_BF16 or AMX, or
  an NVIDIA GPU of compute capability 8.0 or more. oneDNN emulates it elsewhere, several times
  slower than float32 on an AVX2-only CPU (benchmarks/README.md gives the measured ratio, with
  its date and CPU). Other CPUs (ARM's bf16 included) are not measured and get
  float32, the safe choice.
- On a CPU, splitting each batch in two independent halves computed side by side, each op on
  its own threads, beats whole batches on two cores; on one core there is nothing to split.
  With more cores the two halves share them (threads per op = cores / 2). On a GPU a batch is
  computed whole.
- The latent mixture's EM (NumPy's BLAS) gains from more threads only when it models many
  dimensions: on 2 cores, 1.41× at 195 dimensions, 1.25–1.34× at 64–100, nothing at 32 or
  fewer, where one thread leaves the other cores to whatever else runs.

Importing this module imports no TensorFlow: only the GPU query does, where it is asked.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic.
NATIVE_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
# NVIDIA's first compute capability with bfloat16 tensor cores (Ampere).
BFLOAT16_GPU_CAPABILITY = (8, 0)
# From this many modelled dimensions, the latent mixture's EM runs on every core.
MIXTURE_THREADS_FROM_DIMENSIONS = 64
# At most this many model-server workers for "auto" (one per core below it).
MAX_SERVING_WORKERS = 4
MIXED_BFLOAT16 = "mixed_bfloat16"
FLOAT32 = "float32"
AUTO = "auto"


@dataclass(frozen=True)
class Choice:
    """A resolved setting and why it was chosen."""

    value: object
    reason: str

    def describe(self, name: str) -> str:
        """`name` = value (reason), for the log."""
        return f"{name} = {self.value} ({self.reason})"


@dataclass(frozen=True)
class CPU:
    """The CPU this process runs on: its model name, flags and the cores it may use."""

    model: str
    flags: frozenset[str]
    cores: int
    architecture: str

    @property
    def native_bfloat16(self) -> bool:
        """Whether the CPU computes bfloat16 itself (x86 with AVX512_BF16 or AMX)."""
        return self.architecture in ("x86_64", "AMD64") and any(
            flag in self.flags for flag in NATIVE_BFLOAT16_FLAGS
        )


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, as `taskset` sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def this_cpu() -> CPU:
    """This machine's CPU, read from /proc/cpuinfo where there is one (Linux)."""
    fields: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            # The first processor's: x86 says "flags", ARM "Features".
            fields.setdefault(key.strip().lower(), value.strip())
    model = fields.get("model name") or platform.processor() or "unknown CPU"
    flags = fields.get("flags") or fields.get("features") or ""
    return CPU(model, frozenset(flags.split()), usable_cores(), platform.machine())


@functools.cache
def gpu_capabilities() -> tuple[tuple[int, int], ...]:
    """Compute capabilities of the GPUs TensorFlow sees (imports TensorFlow)."""
    import tensorflow as tf  # noqa: PLC0415 - only a run that builds or runs a model asks

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return tuple(capabilities)


def dtype_policy(
    requested: str, cpu: CPU | None = None, gpus: tuple[tuple[int, int], ...] | None = None
) -> Choice:
    """The Keras dtype policy for `requested`: itself, or for "auto" the fast one here."""
    if requested != AUTO:
        return Choice(requested, "as configured")
    gpus = gpu_capabilities() if gpus is None else gpus
    if gpus:
        names = ", ".join(f"{major}.{minor}" for major, minor in gpus)
        if all(capability >= BFLOAT16_GPU_CAPABILITY for capability in gpus):
            return Choice(MIXED_BFLOAT16, f"GPU compute capability {names}: native bfloat16")
        return Choice(FLOAT32, f"GPU compute capability {names}: below 8.0, no fast bfloat16")
    cpu = this_cpu() if cpu is None else cpu
    if cpu.native_bfloat16:
        flags = "/".join(flag for flag in NATIVE_BFLOAT16_FLAGS if flag in cpu.flags)
        return Choice(MIXED_BFLOAT16, f"{cpu.model} computes bfloat16 natively ({flags})")
    if cpu.architecture not in ("x86_64", "AMD64"):
        return Choice(FLOAT32, f"{cpu.model} ({cpu.architecture}): bfloat16 speed not measured")
    return Choice(
        FLOAT32, f"{cpu.model} has no avx512_bf16 or amx_bf16: bfloat16 would be emulated, slower"
    )


def batch_shards(
    requested: int | str, cpu: CPU | None = None, gpus: tuple[tuple[int, int], ...] | None = None
) -> Choice:
    """Slices each training batch is computed in: itself, or for "auto" 2 on 2+ CPU cores."""
    if requested != AUTO:
        return Choice(requested, "as configured")
    gpus = gpu_capabilities() if gpus is None else gpus
    if gpus:
        return Choice(1, "a GPU computes a batch whole")
    cores = (this_cpu() if cpu is None else cpu).cores
    if cores < 2:  # noqa: PLR2004
        return Choice(1, "1 core: whole batches")
    return Choice(2, f"{_cores(cores)}: two halves of each batch side by side")


def _cores(count: int) -> str:
    return "1 core" if count == 1 else f"{count} cores"


def tensorflow_threads(
    intra_op: int | str | None, inter_op: int | str | None, cores: int | None = None
) -> tuple[Choice, Choice]:
    """TensorFlow's threads per op and ops at a time; "auto" sizes them for the batch halves."""
    cores = usable_cores() if cores is None else cores
    # Two ops at a time (the two halves of a batch) on two or more cores, sharing the cores.
    halves = 2 if cores >= 2 else 1  # noqa: PLR2004
    auto = {
        "intra_op": Choice(max(1, cores // halves), f"{_cores(cores)}, {halves} ops at a time"),
        "inter_op": Choice(halves, f"{_cores(cores)}: {halves} batch slices side by side"),
    }
    chosen = []
    for name, value in (("intra_op", intra_op), ("inter_op", inter_op)):
        if value == AUTO:
            chosen.append(auto[name])
        else:
            chosen.append(Choice(value, "as configured" if value else "TensorFlow's default"))
    return chosen[0], chosen[1]


def serving_workers(requested: int | str, cores: int | None = None) -> Choice:
    """Worker processes of a model server: itself, or for "auto" one per core (each then
    sizes TensorFlow's threads for its share of the cores, `tensorflow_threads`)."""
    if requested != AUTO:
        return Choice(int(requested), "as configured")
    cores = usable_cores() if cores is None else cores
    # Measured on 2 cores only; each worker loads its own TensorFlow and model, so many cores
    # do not get as many workers until a measurement says they pay.
    workers = min(cores, MAX_SERVING_WORKERS)
    return Choice(workers, f"{_cores(cores)}: one worker per core, at most {MAX_SERVING_WORKERS}")


def mixture_threads(requested: int | str, dimensions: int, cores: int | None = None) -> Choice:
    """BLAS threads for fitting a mixture: itself, or for "auto" every core for many dimensions."""
    if requested != AUTO:
        return Choice(requested, "as configured")
    cores = usable_cores() if cores is None else cores
    if cores > 1 and dimensions >= MIXTURE_THREADS_FROM_DIMENSIONS:
        return Choice(cores, f"{dimensions} dimensions: matrices large enough for {_cores(cores)}")
    return Choice(1, f"{dimensions} dimensions, {_cores(cores)}: more threads gain nothing")
