"""The libraries' warnings about their own code are ignored in runs, and only those."""

import logging
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

from fashion_vae.hooks.upstream_warnings import (
    UNFILTERABLE,
    UPSTREAM_WARNINGS,
    ignore_upstream_warnings,
)

PROJECT = Path(__file__).resolve().parents[1]


def test_the_project_settings_silence_kedros_and_kedro_mlflows_own_warnings() -> None:
    # As `kedro run` starts: settings first, then Kedro's config loader and kedro-mlflow's
    # hook module, each of which warns about its own code. Any warning left is an error here.
    script = (
        "import fashion_vae.settings\n"
        "from kedro.config import OmegaConfigLoader\n"
        "OmegaConfigLoader('conf', base_env='base', default_run_env='local')\n"
        "import kedro_mlflow.framework.hooks\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", script],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_warning_of_the_project_itself_stays_visible() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignore_upstream_warnings()
        warnings.warn("register_new_resolver() is deprecated, and more", UserWarning, stacklevel=1)
        warnings.warn("training.epochs is larger than needed", UserWarning, stacklevel=1)
    assert [str(warning.message) for warning in caught] == ["training.epochs is larger than needed"]


def test_the_test_suite_ignores_the_same_warnings_as_runs() -> None:
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    ignored = pyproject["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert ignored == [
        f"ignore:{message}:{category.__name__}" for message, category, _ in UPSTREAM_WARNINGS
    ]


def test_a_warning_a_library_turns_back_on_is_dropped_from_the_log() -> None:
    # Kedro's logging writes warnings to the "py.warnings" logger (logging.captureWarnings).
    ignore_upstream_warnings()
    captured = logging.getLogger("py.warnings")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    captured.addHandler(handler)
    try:
        captured.warning("mlflow/...: UserWarning: \x1b[33m%s to enable ...", UNFILTERABLE[0])
        captured.warning("src/fashion_vae/...: UserWarning: the project's own warning")
    finally:
        captured.removeHandler(handler)
    assert [record.getMessage() for record in records] == [
        "src/fashion_vae/...: UserWarning: the project's own warning"
    ]
