"""`kedro prune` keeps what it must: the newest versions, and those the manifest or pins use."""

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from kedro.framework.startup import bootstrap_project

import fashion_vae.cli

OUTPUTS = Path("data", "test_env")
MODEL = OUTPUTS / "06_models" / "vae.keras"  # an explicit catalog entry
FIGURE = OUTPUTS / "08_reporting" / "reconstructions.png"  # a dataset factory pattern's
METRICS = OUTPUTS / "08_reporting" / "metrics.json"
# Kedro's version strings, oldest first.
VERSIONS = [f"2026-12-0{day}T09.30.00.123Z" for day in range(1, 6)]
PLAN_LINE = re.compile(r"[\w@, ]+: data/test_env/|  keep |  remove ")
SUMMARY_LINE = re.compile(r"(Freed|Would free) ")


def kedro(project: Path, command: str, *args: str) -> Result:
    """`kedro COMMAND --env test ARGS` through the project's CLI, in `project`."""
    bootstrap_project(project)
    with contextlib.chdir(project):
        return CliRunner().invoke(fashion_vae.cli.cli, [command, "--env", "test", *args])


def prune(project: Path, *args: str) -> Result:
    """`kedro prune --env test ARGS` in `project`."""
    return kedro(project, "prune", *args)


def write_versions(project: Path, folder: Path, versions: list[str], size: int = 1000) -> None:
    """Fake saved versions `<folder>/<version>/<name>` of `size` bytes each."""
    for version in versions:
        path = project / folder / version / folder.name
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * size)


def versions_left(project: Path, folder: Path) -> list[str]:
    """The version folders still in `folder`, oldest first."""
    return sorted(p.name for p in (project / folder).iterdir())


def succeeded(result: Result) -> str:
    """The output of a command that succeeded."""
    assert result.exit_code == 0, result.output
    return result.output


def plan_lines(output: str) -> list[str]:
    """What prune printed it keeps and removes, without Kedro's log lines."""
    return [line for line in output.splitlines() if PLAN_LINE.match(line)]


def summary_line(output: str) -> str:
    """The line of prune's output that says how much it freed."""
    return next(line for line in output.splitlines() if SUMMARY_LINE.match(line))


@pytest.fixture
def project(tmp_path: Path, copy_project: Callable[[Path], Path]) -> Path:
    """A project copy with five versions of a model and of a figure."""
    project = copy_project(tmp_path)
    write_versions(project, MODEL, VERSIONS)
    write_versions(project, FIGURE, VERSIONS)
    return project


def test_keeps_the_newest_versions_of_each_dataset(project: Path) -> None:
    output = succeeded(prune(project, "--keep", "2"))
    assert versions_left(project, MODEL) == VERSIONS[-2:]
    assert versions_left(project, FIGURE) == VERSIONS[-2:]
    assert f"vae_model: {MODEL}\n" in output
    assert f"  remove  {VERSIONS[0]}  0.0 MB" in output
    assert f"  keep    {VERSIONS[-1]}  (newest)" in output


def test_keeps_a_version_the_cache_manifest_records(project: Path) -> None:
    path = (MODEL / VERSIONS[0] / MODEL.name).as_posix()
    output = {"vae_model": {"path": path, "version": VERSIONS[0], "hash": "sha"}}
    manifest = {"format": 1, "nodes": {"training.train_vae": {"outputs": output}}, "files": {}}
    (project / OUTPUTS / ".cache_manifest.json").write_text(json.dumps(manifest))
    output = succeeded(prune(project, "--keep", "1"))
    assert versions_left(project, MODEL) == [VERSIONS[0], VERSIONS[-1]]
    assert f"  keep    {VERSIONS[0]}  (in the cache manifest)" in output


def test_keeps_a_version_the_last_run_pinned(project: Path) -> None:
    """A real run records its --load-versions; the run after it replaces the record."""
    pin = f"vae_model:{VERSIONS[1]}"
    succeeded(kedro(project, "run", "--pipelines=data_processing", f"--load-versions={pin}"))
    output = succeeded(prune(project, "--keep", "1", "--dry-run"))
    assert f"  keep    {VERSIONS[1]}  (pinned by the last run's --load-versions)" in output
    succeeded(prune(project, "--keep", "1"))
    assert versions_left(project, MODEL) == [VERSIONS[1], VERSIONS[-1]]
    succeeded(kedro(project, "run", "--pipelines=data_processing"))
    succeeded(prune(project, "--keep", "1"))
    assert versions_left(project, MODEL) == [VERSIONS[-1]]


def test_a_dry_run_removes_nothing_and_prints_the_same_plan(project: Path) -> None:
    dry = succeeded(prune(project, "--keep", "3", "--dry-run"))
    assert versions_left(project, MODEL) == VERSIONS
    real = succeeded(prune(project, "--keep", "3"))
    assert plan_lines(dry) == plan_lines(real)
    assert len(plan_lines(real)) == 2 * (1 + len(VERSIONS))
    assert summary_line(dry).endswith("(dry run: nothing removed)")
    assert summary_line(dry).replace("Would free", "Freed").startswith(summary_line(real))
    assert versions_left(project, MODEL) == VERSIONS[-3:]


def test_the_size_printed_is_what_was_removed(project: Path) -> None:
    write_versions(project, METRICS, VERSIONS, size=123_456)
    before = _bytes(project, MODEL, FIGURE, METRICS)
    summary = summary_line(succeeded(prune(project, "--keep", "2")))
    removed = before - _bytes(project, MODEL, FIGURE, METRICS)
    match = re.fullmatch(r"Freed ([\d.]+) MB \(([\d,]+) bytes\): 9 old versions, .*", summary)
    assert match, summary
    assert int(match[2].replace(",", "")) == removed == 3 * (2 * 1000 + 123_456)
    assert match[1] == f"{removed / 1e6:.1f}" == "0.4"


def test_a_staging_leftover_is_removed(project: Path) -> None:
    staging = project / METRICS.parent / f".{METRICS.name}.saving"
    (staging / VERSIONS[-1]).mkdir(parents=True)
    (staging / VERSIONS[-1] / METRICS.name).write_text("{half")
    output = succeeded(prune(project, "--keep", "5"))
    assert not staging.exists()
    assert f"  remove  {staging.name}/  0.0 MB  (a killed save's)" in output
    assert summary_line(output).endswith(": 0 old versions, 1 staging folders")


def test_refused_while_a_run_holds_the_lock(project: Path) -> None:
    with _lock_held(project / OUTPUTS) as pid:
        result = prune(project, "--keep", "1")
    assert result.exit_code == 1
    assert "Error: not pruning: another run is writing into" in result.output
    assert f"pid {pid}, started " in result.output
    assert versions_left(project, MODEL) == VERSIONS


def test_a_run_refused_by_the_lock_leaves_the_pins_of_the_run_holding_it(project: Path) -> None:
    pins = project / OUTPUTS / ".load_versions.json"
    pins.write_text(json.dumps({"vae_model": VERSIONS[1]}))
    with _lock_held(project / OUTPUTS):
        refused = kedro(project, "run", "--pipelines=data_processing")
    assert refused.exit_code == 1 and "another run is writing into" in refused.output
    assert json.loads(pins.read_text()) == {"vae_model": VERSIONS[1]}


def test_keep_must_be_at_least_one(project: Path) -> None:
    result = prune(project, "--keep", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--keep': 0 is not in the range x>=1." in result.output


@contextlib.contextmanager
def _lock_held(outputs: Path) -> Iterator[int]:
    """Another process holding the run lock of `outputs`, while the block runs: its pid."""
    code = (
        "import sys; from fashion_vae.outputs.run_lock import RunLock; "
        f"lock = RunLock(__import__('pathlib').Path({str(outputs)!r})); lock.acquire(); "
        "print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder.pid
    finally:
        holder.communicate("")  # its stdin closes: it exits, and the lock goes with it


def _bytes(project: Path, *folders: Path) -> int:
    """Bytes in the files under `folders`."""
    files = (p for folder in folders for p in (project / folder).rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in files)
