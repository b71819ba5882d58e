"""Integrity: the raw files' identity before every run, errors that name the file, one writer."""

import gzip
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fashion_vae.errors import RawDataMismatchError, RunInProgressError
from fashion_vae.outputs.integrity import DigestCache, check_raw_files
from fashion_vae.outputs.run_lock import RunLock

RAW = "data/01_raw/fashion-mnist"
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def _compress(content: bytes) -> bytes:
    """Gzip, fast: the level does not matter to a reader, and level 9 of 47 MB takes seconds."""
    return gzip.compress(content, compresslevel=1, mtime=0)


def _gz(path: Path, content: bytes) -> None:
    path.write_bytes(_compress(content))


def test_digests_are_cached_by_size_and_mtime(tmp_path: Path) -> None:
    file = tmp_path / "a.gz"
    _gz(file, b"first")
    cache = DigestCache(tmp_path / "digests.json")
    assert cache.digest(file) == hashlib.sha256(b"first").hexdigest()
    cache.save()
    # An unchanged file is not read again: a cache that lies about it is believed.
    recorded = json.loads((tmp_path / "digests.json").read_text())
    recorded[str(file.resolve())]["sha256"] = "cached"
    (tmp_path / "digests.json").write_text(json.dumps(recorded))
    lying = DigestCache(tmp_path / "digests.json")
    assert lying.digest(file) == "cached"
    # A changed file (other size and mtime) is hashed again.
    _gz(file, b"second, longer")
    os.utime(file, ns=(1, 1))
    assert lying.digest(file) == hashlib.sha256(b"second, longer").hexdigest()


def test_a_mismatch_names_the_dataset_the_file_and_both_digests(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.gz", tmp_path / "bad.gz"
    _gz(good, b"good")
    _gz(bad, b"bad")
    expected = {name: hashlib.sha256(b"good").hexdigest() for name in ("a_raw", "b_raw")}
    cache = DigestCache(tmp_path / "digests.json")
    check_raw_files({"a_raw": good}, expected, cache)
    with pytest.raises(RawDataMismatchError) as refused:
        check_raw_files({"a_raw": good, "b_raw": bad}, expected, cache)
    message = str(refused.value)
    assert f"b_raw ({bad})" in message and "a_raw" not in message
    assert hashlib.sha256(b"bad").hexdigest() in message and expected["b_raw"] in message


def test_no_expected_digests_skips_the_check_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "other.gz"
    _gz(file, b"other IDX data")
    check_raw_files({"a_raw": file}, None, DigestCache(tmp_path / "digests.json"))
    assert "raw_sha256 is null" in caplog.text and str(file) in caplog.text


# Each malformed raw file: which file, and how its real gzip bytes are damaged. The image
# cases damage the test images, six times smaller than the training images.
def _decompress(data: bytes) -> bytes:
    return gzip.decompress(data)


def _with_dimensions(data: bytes, *dimensions: int) -> bytes:
    content = _decompress(data)
    header = content[:4] + b"".join(struct.pack(">I", size) for size in dimensions)
    return _compress(header + content[4 + 4 * len(dimensions) :])


def _label_count_off_by_one(data: bytes) -> bytes:
    content = _decompress(data)
    (count,) = struct.unpack(">I", content[4:8])
    return _compress(content[:4] + struct.pack(">I", count - 1) + content[8:-1])


def _label_out_of_range(data: bytes) -> bytes:
    content = bytearray(_decompress(data))
    content[8] = 12
    return _compress(bytes(content))


MALFORMED: dict[str, tuple[str, Callable[[bytes, Path], bytes]]] = {
    "truncated": (TEST_IMAGES, lambda data, raw: _compress(_decompress(data)[:-784])),
    "bad magic": (TEST_IMAGES, lambda data, raw: _compress(b"\x12\x34" + _decompress(data)[2:])),
    "not gzip": (TEST_IMAGES, lambda data, raw: _decompress(data)),
    "cut gzip stream": (TEST_IMAGES, lambda data, raw: data[: len(data) // 2]),
    "labels out of range": (TRAIN_LABELS, lambda data, raw: _label_out_of_range(data)),
    "label count off by one": (TRAIN_LABELS, lambda data, raw: _label_count_off_by_one(data)),
    "wrong dimensions": (TEST_IMAGES, lambda data, raw: _with_dimensions(data, 10000, 14, 56)),
    "train images replaced by test images": (
        TRAIN_IMAGES,
        lambda data, raw: (raw / TEST_IMAGES).read_bytes(),
    ),
    "empty file": (TEST_IMAGES, lambda data, raw: b""),
}


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    copy_project: Callable[[Path], Path],
    run_pipelines: Callable,
) -> Path:
    """A project copy with its own copy of the raw files and data_processing's outputs."""
    root = copy_project(tmp_path_factory.mktemp("integrity"))
    raw = root / RAW
    real = raw.resolve()
    raw.unlink()
    shutil.copytree(real, raw)
    run_pipelines(root, "data_processing")
    return root


@pytest.fixture
def raw_files(project: Path) -> Iterator[Path]:
    """The copy's raw folder, restored after the test."""
    raw = project / RAW
    originals = {path.name: path.read_bytes() for path in raw.iterdir()}
    yield raw
    for name, data in originals.items():
        (raw / name).write_bytes(data)


def _outputs(project: Path) -> dict[str, str]:
    """SHA-256 of every output file (dot files and folders are the run's own bookkeeping)."""
    output = project / "data" / "test_env"
    return {
        str(path.relative_to(output)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in output.rglob("*")
        if path.is_file() and not any(p.startswith(".") for p in path.relative_to(output).parts)
    }


def _failure(error: BaseException) -> str:
    """What the user is shown: the message and its notes."""
    return "\n".join([str(error), *getattr(error, "__notes__", [])])


@pytest.fixture(params=sorted(MALFORMED))
def case(request: pytest.FixtureRequest) -> str:
    """The name of a malformed-file case."""
    return request.param


@pytest.fixture
def outputs_before(project: Path) -> dict[str, str]:
    """The outputs' digests before the test damages anything."""
    return _outputs(project)


@pytest.fixture
def malformed(case: str, raw_files: Path, outputs_before: dict[str, str]) -> Path:
    """The raw file of `case`, damaged that way (restored after the test by `raw_files`)."""
    name, damage = MALFORMED[case]
    path = raw_files / name
    path.write_bytes(damage(path.read_bytes(), raw_files))
    return path


def test_a_malformed_raw_file_is_refused_before_any_node_naming_it(
    case: str,
    outputs_before: dict[str, str],
    malformed: Path,
    project: Path,
    run_pipelines: Callable,
) -> None:
    with pytest.raises(RawDataMismatchError) as refused:
        run_pipelines(project, "data_processing")
    assert str(malformed) in str(refused.value)
    if case == "train images replaced by test images":
        assert "its content is Fashion-MNIST's t10k-images-idx3-ubyte" in str(refused.value)
    assert _outputs(project) == outputs_before


def test_without_the_identity_check_a_malformed_file_is_still_named(
    case: str,
    outputs_before: dict[str, str],
    malformed: Path,
    project: Path,
    run_pipelines: Callable,
) -> None:
    unchecked = {"data_processing": {"raw_sha256": None}}
    with pytest.raises(Exception) as refused:  # noqa: PT011 - each case fails its own way
        run_pipelines(project, "data_processing", runtime_params=unchecked)
    shown = _failure(refused.value)
    assert malformed.name in shown, shown
    if case in ("label count off by one", "train images replaced by test images"):
        assert TRAIN_IMAGES in shown and TRAIN_LABELS in shown, shown  # a mismatch names both
    assert _outputs(project) == outputs_before


def test_swapped_train_and_test_files_are_refused_saying_what_each_is(
    project: Path, raw_files: Path, run_pipelines: Callable
) -> None:
    before = _outputs(project)
    for train, test in ((TRAIN_IMAGES, TEST_IMAGES), (TRAIN_LABELS, TEST_LABELS)):
        train_bytes, test_bytes = (raw_files / train).read_bytes(), (raw_files / test).read_bytes()
        (raw_files / train).write_bytes(test_bytes)
        (raw_files / test).write_bytes(train_bytes)
    with pytest.raises(RawDataMismatchError) as refused:
        run_pipelines(project, "data_processing")
    message = str(refused.value)
    for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS):
        assert str(raw_files / name) in message
    assert "train_images_raw" in message and "its content is Fashion-MNIST's t10k-images" in message
    assert "test_labels_raw" in message and "its content is Fashion-MNIST's train-labels" in message
    assert _outputs(project) == before


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from fashion_vae.outputs.run_lock import RunLock
    lock = RunLock(Path(sys.argv[1]))
    lock.acquire(sys.argv[2:] or None)
    print("locked", flush=True)
    time.sleep(120)
    """
)


def test_runs_of_disjoint_datasets_go_side_by_side_and_prune_waits_for_both(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path), "latent_2.vae_model", "latent_2.metrics"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        beside = RunLock(tmp_path)
        beside.acquire(["latent_16.vae_model", "latent_16.metrics"])  # disjoint: goes ahead
        with pytest.raises(
            RunInProgressError, match=rf"writing latent_2.metrics into .*pid {holder.pid}"
        ):
            RunLock(tmp_path).acquire(["sweep_comparison", "latent_2.metrics"])
        with pytest.raises(RunInProgressError, match=r"writing into .*pid \d+"):
            RunLock(tmp_path).acquire()  # the whole folder, as prune takes it
        beside.release()
        # A refused run holds nothing: the datasets it named first are free again.
        RunLock(tmp_path).acquire(["sweep_comparison"])
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_second_writer_is_refused_naming_the_first_and_a_killed_ones_lock_is_taken_over(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInProgressError, match=rf"pid {holder.pid}, started .*-c"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    lock = RunLock(tmp_path)
    lock.acquire()  # the killed run's lock file is still there; its lock is not
    assert f'"pid": {os.getpid()}' in lock.path.read_text()
    lock.release()


# Training, the test environment's longest pipeline (several seconds), holds the lock long enough.
RUN_TRAINING = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from fashion_vae.cache import CachingRunner
    bootstrap_project(Path(sys.argv[1]))
    with KedroSession.create(project_path=Path(sys.argv[1]), env="test") as session:
        # Without the cache: the training really runs, holding its locks for seconds, however
        # the earlier tests left the project.
        session.run(pipeline_names=["training"], runner=CachingRunner(enabled=False))
    """
)


def test_a_run_writing_what_a_running_run_writes_is_refused_one_writing_elsewhere_goes_ahead(
    project: Path, run_pipelines: Callable
) -> None:
    lock_file = project / "data" / "test_env" / ".locks" / "vae_model.lock"
    first = subprocess.Popen(
        [sys.executable, "-c", RUN_TRAINING, str(project)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while f'"pid": {first.pid}' not in (lock_file.read_text() if lock_file.exists() else ""):
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.05)
        with pytest.raises(
            RunInProgressError, match=rf"writing training_history into .*pid {first.pid}"
        ):
            run_pipelines(project, "training")
        run_pipelines(project, "data_processing")  # its outputs are not the training's
    finally:
        _, errors = first.communicate(timeout=300)
    assert first.returncode == 0, errors[-3000:]
    run_pipelines(project, "training")  # and once it is done, the next run goes ahead
