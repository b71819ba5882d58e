"""What the sweep's tests share: its members, versions, tracked copies of its project (the
`sweep_project` fixture, tests/conftest.py), and `kedro` run as a user types it."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

MEMBERS = ["latent_2", "latent_16"]  # conf/test/parameters_sweep.yml
PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def versions(folder: Path) -> list[Path]:
    """The files of every version of a versioned dataset, oldest first."""
    return sorted(folder.glob(f"*/{folder.name}"))


def kedro(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`kedro ARGS` as a user types it in `project` (exit code and all output)."""
    return subprocess.run(
        [str(BIN / "kedro"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},  # one log record a line
    )


def tracked_copy(sweep_project: Path, copy_of: Callable, destination: Path) -> Path:
    """A copy of the sweep's project whose runs are tracked in MLflow."""
    project = copy_of(sweep_project, destination)
    (project / "conf" / "test" / "parameters_tracking.yml").write_text(
        "tracking:\n  enabled: true\n  max_request_rows: 64\n"
    )
    return project
