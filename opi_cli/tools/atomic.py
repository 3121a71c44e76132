"""The private folder for tool output files (replacing a file's content lives in ``opi_cli._util.atomic``)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

__all__ = ["private_temp_dir"]


def private_temp_dir() -> str:
    """A folder only this user can enter, for tool output files: ``<tmp>/opi-<uid>`` (0700).

    The name is predictable, so it is trusted only if it is a real folder owned by this user;
    otherwise (someone else made it, or it is a symlink) a fresh ``mkdtemp`` folder is used.
    """
    base = os.path.join(tempfile.gettempdir(), f"opi-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(base, 0o700)
    try:
        st = os.lstat(base)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
            if stat.S_IMODE(st.st_mode) != 0o700:
                os.chmod(base, 0o700)
            return base
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="opi-")
