"""Replace a file's content atomically: write a temporary file beside it, fsync, rename over it.

A reader (or a crash) sees the old content or the new one, never a mix; a failure leaves
the original untouched and removes the temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, data: bytes, *, mode: int | None = None, sync_dir: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (parent folders are created).

    Args:
        path: the file to create or replace.
        data: its new content.
        mode: permission bits for the file (default: the temporary file's 0600).
        sync_dir: also fsync the folder, so the rename itself survives a power loss.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".opi-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if sync_dir:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
