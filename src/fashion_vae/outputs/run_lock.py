"""One writer per dataset: a run holds an exclusive lock on each dataset it writes.

A run takes `<output_dir>/.run.lock` shared, and `<output_dir>/.locks/<dataset>.lock`
exclusively for every dataset it writes. Runs whose outputs are disjoint (two sweep members,
as two Airflow tasks run them) go side by side; a run that would write a dataset another run is
writing is refused before any node, naming the dataset and that run. `kedro prune`, which
removes versions of every dataset, takes the folder's lock exclusively: no run writes while it
prunes. The locks are `fcntl.flock`, which the operating system releases when the process
ends, however it ends: a killed run leaves its files but not its locks. An exclusive lock's file
says who holds it, for the message of a refused run.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fashion_vae.errors import RunInProgressError

logger = logging.getLogger(__name__)
LOCK_NAME = ".run.lock"
DATASET_LOCKS = ".locks"


class RunLock:
    """The locks of one output folder, held from `acquire` to `release`."""

    def __init__(self, output_dir: Path) -> None:
        self.folder = output_dir
        self.path = output_dir / LOCK_NAME
        self._files: list[IO[str]] = []

    def acquire(self, datasets: Iterable[str] | None = None) -> None:
        """Take the whole folder (`datasets` None), or else a share of it and each dataset;
        raise RunInProgressError naming the run in the way (nothing is held then)."""
        try:
            if datasets is None:
                self._take(self.path, fcntl.LOCK_EX, "")
            else:
                self._take(self.path, fcntl.LOCK_SH, "")
                for name in sorted(set(datasets)):
                    self._take(self.folder / DATASET_LOCKS / f"{name}.lock", fcntl.LOCK_EX, name)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Let the next run in (the files stay, saying who held them last)."""
        for file in reversed(self._files):
            fcntl.flock(file, fcntl.LOCK_UN)
            file.close()
        self._files = []

    def _take(self, path: Path, mode: int, dataset: str) -> None:
        """Lock `path` in `mode`; an exclusive lock's file then names this run."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: a refused run must still read the holder's details.
        file = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(file, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = self._folder_holder(file) if path == self.path else _holder(file.read())
            file.close()
            what = f"{dataset} into " if dataset else "into "
            raise RunInProgressError(
                f"another run is writing {what}{self.folder}: pid {holder['pid']}, started "
                f"{holder['started']}, `{holder['command']}`. Wait for it to finish, or run "
                "in another environment (--env), which writes elsewhere."
            ) from None
        self._files.append(file)
        if mode == fcntl.LOCK_SH:
            return
        file.seek(0)
        previous = _holder(file.read())
        if not dataset and previous["pid"] not in ("?", os.getpid()):
            logger.info(
                "Taking over %s from pid %s (started %s), which no longer runs",
                path,
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

    def _folder_holder(self, folder_lock: IO[str]) -> dict:
        """Who holds the folder: its exclusive holder, or else a run holding a dataset."""
        holder = _holder(folder_lock.read())
        if holder["pid"] != "?" and _is_held(self.path):
            return holder
        for path in sorted((self.folder / DATASET_LOCKS).glob("*.lock")):
            if _is_held(path):
                return _holder(path.read_text(encoding="utf-8"))
        return holder


def _is_held(path: Path) -> bool:
    """Whether some process holds an exclusive lock on `path` now."""
    with open(path, encoding="utf-8") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
        return False


def _holder(text: str) -> dict:
    """Who the lock file says holds it; unknown fields as "?"."""
    try:
        holder = json.loads(text)
    except ValueError:
        holder = {}
    return {key: holder.get(key, "?") for key in ("pid", "started", "command")}
