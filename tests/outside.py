"""A scratch folder that a workspace-write sandbox does not make writable, wherever the checkout is.

The sandbox binds the working folder and the temp folders (:func:`temp_dirs`: ``$TMPDIR``,
``/tmp``, ``/var/tmp``) writable, so a folder made under any of them proves nothing about
escapes. The checkout itself qualifies only when it lives elsewhere (a clean clone under
``/tmp`` does not), so the user's real home directory (from the password database: the
tests point ``$HOME`` into a temp folder) is the next candidate.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opi_cli.tools.sandbox import temp_dirs
from tests.conftest import ROOT


def _writable_in_sandbox(folder: str) -> bool:
    real = os.path.realpath(folder)
    return any(real == d or real.startswith(d.rstrip("/") + "/") for d in temp_dirs())


def _candidates() -> list[str]:
    return [str(ROOT), pwd.getpwuid(os.getuid()).pw_dir, "/var/lib", "/srv", "/opt"]


@contextmanager
def outside_folder() -> Iterator[Path]:
    """A fresh folder outside every folder the sandbox binds writable, removed afterwards.

    Raises:
        AssertionError: no candidate folder can be written to on this machine (names them).
    """
    tried: list[str] = []
    for parent in _candidates():
        if _writable_in_sandbox(parent) or not os.access(parent, os.W_OK):
            tried.append(parent)
            continue
        path = Path(tempfile.mkdtemp(prefix=".opi-sandbox-test-", dir=parent))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
        return
    raise AssertionError(f"no writable folder outside the sandbox's writable ones {temp_dirs()} (tried {tried})")
