"""Put the four raw Fashion-MNIST files into the project, verified by SHA-256.

Usage: ``python -m fashion_vae.data.raw_data [--dest data/01_raw/fashion-mnist]``.

Each file is kept if already present and valid, else copied from a local directory (Debian's
dataset-fashion-mnist package installs one), else downloaded from the official mirror. Only
the standard library is used, so this runs before (or without) the ML stack is installed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import sys
import urllib.request
import uuid
import zlib
from pathlib import Path

# SHA-256 of each file's *decompressed* content: the .gz bytes differ between mirrors and
# gzip versions, the IDX content does not.
FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    ),
    "train-labels-idx1-ubyte.gz": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
    ),
}
DEFAULT_DEST = Path("data/01_raw/fashion-mnist")
DEFAULT_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DOWNLOAD_TIMEOUT_S = 60
_CHUNK_BYTES = 1 << 20


class RawDataError(Exception):
    """A raw file could not be obtained, or what was obtained failed verification."""


def decompressed_sha256(path: Path) -> str:
    """Returns the hex SHA-256 of the gzip-decompressed content of ``path``."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as gz_file:
        while chunk := gz_file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verification_problem(path: Path, name: str) -> str | None:
    """Says what is wrong with ``path`` as the file ``name``, or returns None if it is valid."""
    expected = FILES[name]
    try:
        actual = decompressed_sha256(path)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        return f"not a valid gzip file ({exc})"
    if actual != expected:
        return f"SHA-256 of the decompressed content is {actual}, expected {expected}"
    return None


def download(url: str, target: Path) -> None:
    """Downloads ``url`` into ``target``, showing a progress line on stderr."""
    with (
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        target.open("wb") as out,
    ):
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(_CHUNK_BYTES):
            out.write(chunk)
            done += len(chunk)
            size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
            print(f"\r  {url}: {size}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def ensure_file(name: str, dest: Path, system_dir: Path, base_url: str) -> str:
    """Makes ``dest/name`` a verified copy of ``name`` and returns how it got there."""
    target = dest / name
    if target.exists():
        problem = verification_problem(target, name)
        if problem is None:
            return "ok"
        print(f"{target}: {problem}; fetching it again", file=sys.stderr)

    source = system_dir / name
    from_system = source.is_file()
    origin = str(source) if from_system else f"{base_url.rstrip('/')}/{name}"
    # Fetch next to the target and rename only once verified, so dest never holds a
    # partial or wrong file under the real name.
    tmp = dest / f".{name}.{uuid.uuid4().hex}.part"
    try:
        try:
            if from_system:
                shutil.copyfile(source, tmp)
            else:
                download(origin, tmp)
        except OSError as exc:  # also urllib's URLError and timeouts
            raise RawDataError(f"{name}: could not get it from {origin}: {exc}") from exc
        problem = verification_problem(tmp, name)
        if problem is not None:
            raise RawDataError(f"{name}: refusing {origin}: {problem}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return f"copied from {origin}" if from_system else f"downloaded from {origin}"


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns 0 if every file is in place and valid, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m fashion_vae.data.raw_data",
        description="Put the four raw Fashion-MNIST files into DEST, verified by SHA-256.",
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="%(default)s")
    parser.add_argument(
        "--system-dir",
        type=Path,
        default=DEFAULT_SYSTEM_DIR,
        help="local copies to use before downloading (default: %(default)s)",
    )
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="%(default)s")
    args = parser.parse_args(argv)

    args.dest.mkdir(parents=True, exist_ok=True)
    failed = False
    # Carry on after a failure so one run reports every missing or bad file.
    for name in FILES:
        try:
            how = ensure_file(name, args.dest, args.system_dir, args.base_url)
        except RawDataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
        else:
            print(f"{name}: {how}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
