"""Fixtures of the cache tests: throw-away node modules whose source a test can edit."""

import importlib
import linecache
import sys
import textwrap
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

WriteModule = Callable[[str], types.ModuleType]


@pytest.fixture
def package_name() -> str:
    """A fresh top-level package name, so that no two tests share imported modules."""
    return f"cache_demo_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def write_module(
    tmp_path: Path, package_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WriteModule]:
    """Writes source as `<package_name>.nodes` and imports it, or re-imports it after an edit."""
    package = tmp_path / "src" / package_name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(package.parent))
    # A .pyc written within the same second as an edit of equal size would be taken as current.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module_name = f"{package_name}.nodes"

    def write(source: str) -> types.ModuleType:
        (package / "nodes.py").write_text(textwrap.dedent(source))
        # As in a new `kedro run` process: no source lines remembered from before the edit.
        linecache.clearcache()
        importlib.invalidate_caches()
        if module_name in sys.modules:
            return importlib.reload(sys.modules[module_name])
        return importlib.import_module(module_name)

    yield write
    for name in [name for name in sys.modules if name.partition(".")[0] == package_name]:
        del sys.modules[name]
