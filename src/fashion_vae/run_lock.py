"""One writer at a time: a run holds an exclusive lock on its output folder while it runs.

The lock is `fcntl.flock` on `<output_dir>/.run.lock`, which the operating system releases
when the process ends, however it ends: a killed run leaves the file but not the lock, and
the next run takes it over. The file says who holds it, for the message of a refused run.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fashion_vae.errors import RunInProgressError

logger = logging.getLogger(__name__)
LOCK_NAME = ".run.lock"


class RunLock:
    """The exclusive lock of one output folder, held from `acquire` to `release`."""

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise RunInProgressError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: a refused run must still read the holder's details.
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = _holder(file.read())
            file.close()
            raise RunInProgressError(
                f"another run is writing into {self.path.parent}: pid {holder['pid']}, started "
                f"{holder['started']}, `{holder['command']}`. Wait for it to finish, or run "
                "in another environment (e.g. --env=test), which writes elsewhere."
            ) from None
        file.seek(0)
        previous = _holder(file.read())
        if previous["pid"] not in ("?", os.getpid()):
            logger.info(
                "Taking over %s from pid %s (started %s), which no longer runs",
                self.path,
                previous["pid"],
                previous["started"],
            )
        file.seek(0)
        file.truncate()
        json.dump(
            {
                "pid": os.getpid(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(sys.argv),
            },
            file,
        )
        file.flush()
        self._file = file

    def release(self) -> None:
        """Let the next run in (the file stays, saying who held it last)."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _holder(text: str) -> dict:
    """Who the lock file says holds it; unknown fields as "?"."""
    try:
        holder = json.loads(text)
    except ValueError:
        holder = {}
    return {key: holder.get(key, "?") for key in ("pid", "started", "command")}
