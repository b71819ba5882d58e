"""Fingerprints of a node's code, of parameter values and of file contents."""

from __future__ import annotations

import hashlib
import inspect
import json
import types
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

# Parameter keys that change what a run displays, never what it computes: not fingerprinted.
DISPLAY_ONLY_KEYS = frozenset({"verbose"})
# What the fingerprinter reads the source of: the project's functions, classes and modules.
_CodeObject = types.FunctionType | type | types.ModuleType
_PLAIN_TYPES = (type(None), bool, int, float, str, bytes)
_MISSING = object()


class SourceUnavailableError(Exception):
    """The source of a project object cannot be read, so its code cannot be fingerprinted."""


class CodeFingerprinter:
    """Hashes a function's source together with the project code and constants it uses."""

    def __init__(self, packages: Collection[str]) -> None:
        """Follows references into the top-level packages `packages` only."""
        self._packages = frozenset(packages)
        self._digests: dict[_CodeObject, str] = {}

    def __call__(self, func: Callable) -> dict[str, str]:
        """Digest of every source `func` depends on, by qualified name (raises if unreadable)."""
        digests: dict[str, str] = {}
        pending: list[Any] = [func]
        seen: set[int] = set()
        while pending:
            obj = pending.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            digests[qualified_name(obj)] = self._source_digest(obj)
            for key, value in _references(obj):
                if self._is_project_code(value):
                    pending.append(value)
                elif (text := _constant_text(value)) is not None:
                    digests[key] = text_sha256(text)
        return digests

    def _is_project_code(self, value: Any) -> bool:
        """Whether `value` is a function, class or module of one of the project's packages."""
        if isinstance(value, types.ModuleType):
            module = value.__name__
        elif isinstance(value, types.FunctionType | type):
            module = value.__module__
        else:
            return False
        return module.partition(".")[0] in self._packages

    def _source_digest(self, obj: Any) -> str:
        """SHA-256 of the source of `obj`, computed once per fingerprinter."""
        if obj not in self._digests:
            try:
                source = inspect.getsource(obj)
            except (OSError, TypeError) as exc:
                raise SourceUnavailableError(qualified_name(obj)) from exc
            self._digests[obj] = text_sha256(source)
        return self._digests[obj]


def qualified_name(obj: Any) -> str:
    """`module.qualname` of a function or class, the name of a module."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _references(obj: Any) -> Iterator[tuple[str, Any]]:
    """(qualified name, value) of the globals and closure cells that `obj`'s code uses."""
    if isinstance(obj, types.FunctionType):
        yield from _function_references(obj)
    elif isinstance(obj, type):
        for member in _member_functions(obj):
            yield from _function_references(member)
        for base in obj.__bases__:
            yield qualified_name(base), base
    # A module is hashed whole: its source already holds everything it defines.


def _function_references(func: types.FunctionType) -> Iterator[tuple[str, Any]]:
    """The globals named anywhere in `func`'s code (nested code too), then its closure cells."""
    for name in sorted(set(_global_names(func.__code__))):
        # Dunders such as __file__ hold machine-specific paths, not logic.
        if name in func.__globals__ and not name.startswith("__"):
            yield f"{func.__module__}.{name}", func.__globals__[name]
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=True):
        try:
            yield f"{qualified_name(func)}.{name}", cell.cell_contents
        except ValueError:  # an empty cell: the variable is not bound yet
            continue


def _global_names(code: types.CodeType) -> Iterator[str]:
    """Names that `code` and the code objects nested in it (lambdas, inner functions) load."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_names(const)


def _member_functions(cls: type) -> Iterator[types.FunctionType]:
    """The functions defined in a class body: methods, static and class methods, properties.

    Methods that a decorator generated from the class body (a dataclass's `__init__`,
    `__repr__`, ...) have no source file; the class's own source already covers them.
    """
    for member in vars(cls).values():
        value = member.__func__ if isinstance(member, staticmethod | classmethod) else member
        if isinstance(value, property):
            functions = [f for f in (value.fget, value.fset, value.fdel) if f is not None]
        elif isinstance(value, types.FunctionType):
            functions = [value]
        else:
            continue
        yield from (f for f in functions if not _is_generated(f))


def _is_generated(func: types.FunctionType) -> bool:
    """Whether `func` (or the function it wraps) was compiled from a string, not a file."""
    unwrapped = inspect.unwrap(func)
    code = getattr(unwrapped, "__code__", None)
    return code is not None and code.co_filename.startswith("<")


def _constant_text(value: Any) -> str | None:
    """Deterministic text of plain data (numbers, strings and containers of them), else None."""
    if isinstance(value, _PLAIN_TYPES):
        return repr(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_constant_text(item) for item in value]
        if any(item is None for item in items):
            return None
        # Sets iterate in an order that changes with string hash randomization.
        ordered = sorted(items) if isinstance(value, set | frozenset) else items
        return f"{type(value).__name__}[{','.join(ordered)}]"  # type: ignore[arg-type]
    if isinstance(value, dict):
        return _constant_text(tuple(sorted(value.items(), key=lambda item: repr(item[0]))))
    return None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    )


def normalized(value: Any) -> Any:
    """A parameter value as it reads back from JSON, less display-only keys such as `verbose`.

    Pydantic models (Kedro hands a node its validated parameter sections as models) become
    their JSON dump first, so a model and the equal dict have one fingerprint.
    """
    # JSON, so that live and recorded values compare equal.
    return json.loads(canonical_json(without_display_settings(_plain(value))))


def without_display_settings(value: Any) -> Any:
    """`value` with every display-only key (such as `verbose`) removed, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: without_display_settings(item)
            for key, item in value.items()
            if key not in DISPLAY_ONLY_KEYS
        }
    if isinstance(value, list | tuple):
        return [without_display_settings(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """`value` with every pydantic model in it, at any depth, replaced by its JSON dump."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def changed_parameters(name: str, old: Any, new: Any) -> list[str]:
    """Dotted names of the leaves that differ between two normalized values of parameter `name`."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            changed
            for key in sorted(old.keys() | new.keys())
            for changed in changed_parameters(
                f"{name}.{key}" if name else key, old.get(key, _MISSING), new.get(key, _MISSING)
            )
        ]
    if old is _MISSING or new is _MISSING:
        return [name]
    # Text, not ==: 1 == 1.0 == True in Python, yet each may train a different model.
    return [] if canonical_json(old) == canonical_json(new) else [name]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def text_sha256(text: str) -> str:
    """SHA-256 of a string's UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()
