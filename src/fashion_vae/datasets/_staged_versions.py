"""Versioned saves that publish a version all at once, or not at all (local filesystem).

Kedro has no public way to change where a versioned save writes, so this module, and only this
one, relies on Kedro's protected `_save_wrapper` and `_get_save_path` of `AbstractDataset` and
`AbstractVersionedDataset`, as written against Kedro 1.7.0. tests/datasets/
test_atomic_versions.py fails on an upstream change: a failed or killed save of each project
dataset type must leave the previous version the newest, which kedro-datasets' own classes do not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractDataset, AbstractVersionedDataset


class StagedVersionsMixin:
    """Makes a versioned dataset's local save appear as a whole new version, or not at all.

    Kedro saves version ``<v>`` of ``<filepath>`` to ``<filepath>/<v>/<name>``, and loads the
    newest ``<filepath>/*/<name>`` that exists. A save that writes there directly and fails or
    is killed midway leaves a half-written newest version, which the next run then loads.

    Put first in the bases of a versioned dataset, this mixin makes a save on the local
    filesystem write to ``<parent>/.<name>.saving/<v>/<name>`` instead, a folder outside
    ``<filepath>`` that the pattern above never matches, and then move the whole ``<v>``
    folder into ``<filepath>/`` with one ``os.rename``, atomic on one filesystem. A save that
    raises removes its staged folder; one that is killed leaves it behind, unseen by loads and
    replaced by the next save of that version. Unversioned and non-local saves are the parent
    class's own, unchanged.
    """

    _staged_save_path: PurePosixPath | None = None  # where the save in progress writes

    @classmethod
    def _save_wrapper(cls, save_func: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        """Stages the raw ``save`` in Kedro's wrapper, whose version check follows the move."""
        # Kedro wraps `save` again for every subclass, around the parent's wrapped `save` (it
        # marks only the inner layer as wrapped), so the version check would run before the
        # move; and the outer layer's fresh version would differ. So unwrap to the raw `save`.
        save_func = _without_kedro_wrappers(save_func)
        if getattr(save_func, "__staged__", False):  # a base class staged it already
            return super()._save_wrapper(save_func)  # type: ignore[misc]

        @wraps(save_func)
        def save(self: StagedVersionsMixin, data: Any) -> None:
            with self._staged_version():
                save_func(self, data)

        save.__staged__ = True  # type: ignore[attr-defined]
        return super()._save_wrapper(save)  # type: ignore[misc]

    def _get_save_path(self) -> PurePosixPath:
        """The staged path while a staged save runs, else Kedro's ``<filepath>/<v>/<name>``."""
        if self._staged_save_path is not None:
            return self._staged_save_path
        return super()._get_save_path()  # type: ignore[misc]

    @contextlib.contextmanager
    def _staged_version(self) -> Iterator[None]:
        """Points saves at a staging folder, then moves it into place if the save succeeded."""
        versioned = bool(getattr(self, "_version", None))
        if not versioned or getattr(self, "_protocol", None) != "file":
            yield
            return
        # Also Kedro's check that this version was not saved before.
        final = Path(super()._get_save_path())  # type: ignore[misc]
        version_dir, filepath = final.parent, final.parent.parent
        staging_root = filepath.parent / f".{filepath.name}.saving"
        staged = staging_root / version_dir.name
        try:
            os.makedirs(filepath, exist_ok=True)
        except FileExistsError as exc:
            # A file of that name, saved before versioning was on: Kedro's save wrapper turns
            # NotADirectoryError into its message saying so.
            raise NotADirectoryError(str(exc)) from exc
        shutil.rmtree(staged, ignore_errors=True)  # a killed save of this version left it
        staged.mkdir(parents=True)
        self._staged_save_path = PurePosixPath(staged / final.name)
        try:
            yield
            _fsync_tree(staged)  # else a crash soon after the move can publish empty files
            os.rename(staged, version_dir)
            _fsync(filepath)
        except BaseException:
            # Also on KeyboardInterrupt: never leave a half-written version behind.
            shutil.rmtree(staged, ignore_errors=True)
            raise
        finally:
            self._staged_save_path = None
            with contextlib.suppress(OSError):
                staging_root.rmdir()  # only once empty: another save may still be staging


def _without_kedro_wrappers(func: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """``func`` without the layers of Kedro's ``_save_wrapper`` (known by their code)."""
    while getattr(func, "__code__", None) in _KEDRO_SAVE_WRAPPER_CODE:
        func = func.__wrapped__
    return func


def _probe(self: Any, data: Any) -> None:
    """A save function, to tell what Kedro's save wrappers look like."""


_KEDRO_SAVE_WRAPPER_CODE = frozenset(
    wrapper_class._save_wrapper(_probe).__code__
    for wrapper_class in (AbstractDataset, AbstractVersionedDataset)
)


def _fsync_tree(folder: Path) -> None:
    """Flushes every file and folder under ``folder`` to disk."""
    for dirpath, _, filenames in os.walk(folder):
        for filename in filenames:
            _fsync(Path(dirpath) / filename)
        _fsync(Path(dirpath))


def _fsync(path: Path) -> None:
    """Flushes one file or folder to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
