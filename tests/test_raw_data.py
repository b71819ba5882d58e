"""Tests for the ``fashion_vae.data.raw_data`` CLI, with tiny fake files and no network."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fashion_vae.data import raw_data

NAMES = ["images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"]


def content(name: str) -> bytes:
    """Returns the fake decompressed content of ``name``."""
    return f"fake IDX content of {name}".encode()


@pytest.fixture(autouse=True)
def fake_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Points the hash table at the fake files and makes any real download fail the test."""
    monkeypatch.setattr(
        raw_data, "FILES", {name: hashlib.sha256(content(name)).hexdigest() for name in NAMES}
    )

    def no_network(url: str, target: Path) -> None:
        raise AssertionError(f"unexpected download of {url}")

    monkeypatch.setattr(raw_data, "download", no_network)


@pytest.fixture
def system_dir(tmp_path: Path) -> Path:
    """Returns a fake system dataset directory holding valid gzip'd fake files."""
    directory = tmp_path / "system"
    directory.mkdir()
    for name in NAMES:
        (directory / name).write_bytes(gzip.compress(content(name)))
    return directory


def run(dest: Path, system_dir: Path, *extra: str) -> int:
    """Runs the CLI entry point against ``dest`` and ``system_dir``."""
    return raw_data.main(["--dest", str(dest), "--system-dir", str(system_dir), *extra])


def test_copies_from_system_dir_and_is_idempotent(
    tmp_path: Path, system_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "data" / "01_raw" / "fashion-mnist"

    assert run(dest, system_dir) == 0
    out = capsys.readouterr().out
    assert out.count("copied from") == 2
    assert sorted(path.name for path in dest.iterdir()) == sorted(NAMES)
    for name in NAMES:
        assert (dest / name).read_bytes() == (system_dir / name).read_bytes()
    mtimes = {name: (dest / name).stat().st_mtime_ns for name in NAMES}

    # Second run: nothing to do, even with the system copies gone.
    for name in NAMES:
        (system_dir / name).unlink()
    assert run(dest, system_dir) == 0
    assert capsys.readouterr().out.splitlines() == [f"{name}: ok" for name in NAMES]
    assert {name: (dest / name).stat().st_mtime_ns for name in NAMES} == mtimes


def test_hash_is_of_decompressed_content(tmp_path: Path, system_dir: Path) -> None:
    # Recompressing changes the .gz bytes but not the content, so the file is still accepted.
    name = NAMES[0]
    (system_dir / name).write_bytes(gzip.compress(content(name), compresslevel=1, mtime=123))

    assert run(tmp_path / "dest", system_dir) == 0


def test_bad_hash_is_refused_and_never_placed(
    tmp_path: Path, system_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad, good = NAMES
    (system_dir / bad).write_bytes(gzip.compress(b"tampered"))
    dest = tmp_path / "dest"

    assert run(dest, system_dir) == 1

    err = capsys.readouterr().err
    assert bad in err
    assert raw_data.FILES[bad] in err
    assert hashlib.sha256(b"tampered").hexdigest() in err
    # The good file still arrives; the bad one, and any temp file, do not.
    assert [path.name for path in dest.iterdir()] == [good]


@pytest.mark.parametrize(
    "damage",
    [lambda gz: b"plain text, not gzip", lambda gz: gz[:-6], lambda gz: gz[:-8] + bytes(8)],
    ids=["not-gzip", "truncated", "bad-crc"],
)
def test_undecompressable_file_is_refused(
    tmp_path: Path,
    system_dir: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[bytes], bytes],
) -> None:
    name = NAMES[0]
    source = system_dir / name
    source.write_bytes(damage(source.read_bytes()))
    dest = tmp_path / "dest"

    assert run(dest, system_dir) == 1

    err = capsys.readouterr().err
    assert name in err
    assert "not a valid gzip file" in err
    assert [path.name for path in dest.iterdir()] == [NAMES[1]]


def test_invalid_existing_file_is_replaced(
    tmp_path: Path, system_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = NAMES[0]
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / name).write_bytes(b"<html>502 Bad Gateway</html>")

    assert run(dest, system_dir) == 0

    assert (dest / name).read_bytes() == (system_dir / name).read_bytes()
    assert "fetching it again" in capsys.readouterr().err


def test_downloads_when_no_system_copy(
    tmp_path: Path,
    system_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The real download function, fed a file:// URL: urllib without any network.
    monkeypatch.undo()
    monkeypatch.setattr(
        raw_data, "FILES", {name: hashlib.sha256(content(name)).hexdigest() for name in NAMES}
    )
    dest = tmp_path / "dest"

    assert run(dest, tmp_path / "absent", "--base-url", system_dir.as_uri()) == 0

    assert capsys.readouterr().out.count("downloaded from file://") == 2
    for name in NAMES:
        assert (dest / name).read_bytes() == (system_dir / name).read_bytes()


def test_failed_download_is_reported(
    tmp_path: Path,
    system_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.undo()
    monkeypatch.setattr(raw_data, "FILES", {"missing.gz": "0" * 64})
    dest = tmp_path / "dest"

    assert run(dest, tmp_path / "absent", "--base-url", system_dir.as_uri()) == 1

    assert "missing.gz: could not get it from file://" in capsys.readouterr().err
    assert list(dest.iterdir()) == []


def test_real_hash_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # drop the autouse fake table

    assert sorted(raw_data.FILES) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    assert all(len(digest) == 64 and int(digest, 16) for digest in raw_data.FILES.values())


def test_imports_only_the_standard_library() -> None:
    package_root = Path(raw_data.__file__).parents[1]
    code = (
        "import sys, fashion_vae.data.raw_data; "
        "heavy = {'numpy', 'kedro', 'tensorflow', 'keras'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    env = {**os.environ, "PYTHONPATH": str(package_root)}

    subprocess.run([sys.executable, "-c", code], check=True, env=env)
