"""Is each raw file the one its dataset expects? SHA-256 of the decompressed content, cached.

Hashing a decompressed 47 MB file costs a fraction of a second, so a digest is kept with the
file's size and modification time and recomputed only when either changes.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping
from pathlib import Path

from fashion_vae.data.raw_data import FILES, decompressed_sha256
from fashion_vae.datasets.atomic import write_atomically_local
from fashion_vae.errors import RawDataMismatchError
from fashion_vae.outputs.stamped_digests import StampedDigests

logger = logging.getLogger(__name__)

# Which Fashion-MNIST file a digest belongs to, to say what a misplaced file really is.
KNOWN_CONTENT = {digest: name.removesuffix(".gz") for name, digest in FILES.items()}


class DigestCache:
    """Decompressed SHA-256 digests by path, valid while a file's size and mtime are unchanged."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            entries = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            entries = {}
        self._digests = StampedDigests(entries, decompressed_sha256)

    def digest(self, file: Path) -> str:
        """The file's digest, from the cache if its size and mtime are those recorded."""
        return self._digests.digest(file, str(file.resolve()))

    def save(self) -> None:
        """Write the cache if a digest was computed (atomically: a reader never sees half)."""
        if self._digests.changed:
            text = json.dumps(self._digests.entries, indent=1, sort_keys=True)
            write_atomically_local(str(self._path), lambda file: file.write(text.encode()))


def check_raw_files(
    files: Mapping[str, Path], expected: Mapping[str, str] | None, cache: DigestCache
) -> None:
    """Raise RawDataMismatchError naming every raw file whose content is not the expected one."""
    if expected is None:
        logger.warning(
            "data_processing.raw_sha256 is null: the raw files %s are not checked against "
            "known digests",
            ", ".join(str(path) for path in files.values()),
        )
        return
    problems = []
    for name, path in sorted(files.items()):
        if name not in expected:
            problems.append(
                f"{name} ({path}): no digest in data_processing.raw_sha256; give its SHA-256 "
                "or set the parameter to null to skip the check"
            )
            continue
        try:
            actual = cache.digest(path)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            problems.append(f"{name} ({path}): cannot be read as gzip ({error})")
            continue
        if actual != expected[name]:
            what = KNOWN_CONTENT.get(actual)
            content = f"; its content is Fashion-MNIST's {what}" if what else ""
            problems.append(
                f"{name} ({path}): SHA-256 of the decompressed content is {actual}, expected "
                f"{expected[name]}{content}"
            )
    cache.save()
    if problems:
        raise RawDataMismatchError(
            "raw data is not what the run expects:\n  "
            + "\n  ".join(problems)
            + "\nRun `make data` to restore Fashion-MNIST, or set data_processing.raw_sha256 to "
            "train on other IDX files on purpose (README, 'The data')."
        )
