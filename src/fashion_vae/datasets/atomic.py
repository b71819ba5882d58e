"""All-or-nothing file writes, shared by the project's file datasets."""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Callable
from typing import Any, BinaryIO

import fsspec


def write_atomically(
    fs: fsspec.AbstractFileSystem,
    protocol: str,
    path: str,
    write: Callable[[BinaryIO], None],
    open_args: dict[str, Any],
) -> None:
    """Writes ``path`` via ``write`` so readers see the old or the whole new file, never part."""
    if protocol == "file":
        write_atomically_local(path, write)
        return
    # fsspec files upload on close even when the writer raised, which would publish a partial
    # object; so serialise in memory first. Object stores then only publish a complete upload.
    buffer = io.BytesIO()
    write(buffer)
    # Only here do fsspec open args apply: local saves need their own temp file and rename.
    with fs.open(path, **open_args) as out:
        out.write(buffer.getbuffer())


def write_atomically_local(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Writes a sibling temp file via ``write``, then renames it over ``path``."""
    directory, name = os.path.split(path)
    # Versioned saves target a fresh `<file>/<version>/` directory that does not exist yet.
    os.makedirs(directory or ".", exist_ok=True)
    # Same directory as the target so os.replace is a same-filesystem, atomic rename; a
    # unique name (not mkstemp, which forces mode 0600) so the file gets the usual umask mode.
    tmp_path = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp_path, "xb") as tmp_file:
            write(tmp_file)
            tmp_file.flush()
            # Without fsync a crash soon after the rename can leave an empty file in place.
            os.fsync(tmp_file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a half-written temp file behind.
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise
