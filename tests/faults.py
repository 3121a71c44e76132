"""Real file-system faults for tests: a full disk and a read-only folder, without special set-up.

Both run a command in a private mount namespace (``unshare --user --map-root-user --mount``)
where a small ``tmpfs`` is mounted over a folder: full (a filler file leaves ``free`` bytes)
or read-only. What the command left in the folder is copied back out when it ends, so the
test can inspect it afterwards (the mount itself disappears with the namespace).

Where the kernel refuses new namespaces (some containers), :func:`full_disk_run` falls back
to ``RLIMIT_FSIZE``: writes past the limit fail with ``EFBIG`` ("File too large") instead of
``ENOSPC``, which exercises the same code paths; :data:`MECHANISM` says which one is in use.
A read-only folder needs the namespace, or a non-root user (then ``chmod 0555`` is enough).
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PAGE = 4096


@functools.cache
def namespaces_available() -> bool:
    """Whether ``unshare`` can give us a mount namespace with a tmpfs (probed once).

    ``OPI_TEST_NO_NAMESPACES=1`` pretends it cannot, to exercise the fallbacks.
    """
    if os.environ.get("OPI_TEST_NO_NAMESPACES") == "1" or shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
             "d=$(mktemp -d) && mount -t tmpfs -o size=16k tmpfs \"$d\" && umount \"$d\" && rmdir \"$d\""],
            capture_output=True, timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def mechanism() -> str:
    return "tmpfs in a mount namespace" if namespaces_available() else "RLIMIT_FSIZE"


def _in_namespace(
    argv: Sequence[str], folder: Path, mount_opts: str, prepare: str, *, cwd: Path, env: Mapping[str, str],
    timeout: float, stdin: str,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with a fresh tmpfs over ``folder`` (its old content copied in first, result copied back)."""
    stash = folder.with_name(folder.name + ".stash")
    shutil.rmtree(stash, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, stash)
    script = (
        'set -e; dir="$1"; stash="$2"; shift 2\n'
        'mount -t tmpfs -o size=1m tmpfs "$dir"\n'
        'cp -a "$stash/." "$dir/"\n'
        f"{prepare}\n"
        f'mount -o remount,{mount_opts} "$dir"\n'
        'set +e; "$@"; rc=$?\n'
        'rm -rf "$stash"; mkdir "$stash"; cp -a "$dir/." "$stash/" 2>/dev/null\n'
        "exit $rc\n"
    )
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(folder), str(stash), *argv],
        cwd=cwd, env=dict(env), input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
    )
    shutil.rmtree(folder)
    stash.rename(folder)
    return proc


def full_disk_run(
    argv: Sequence[str], folder: Path, *, free: int, cwd: Path, env: Mapping[str, str] | None = None,
    timeout: float = 120, stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` while ``folder`` sits on a disk with only ``free`` bytes left (``free`` >= 0).

    With the namespace, a 1 MB tmpfs is filled up to ``free`` bytes (rounded down to pages).
    Without it, no file may grow past ``free`` bytes (``RLIMIT_FSIZE``, SIGXFSZ ignored).
    """
    full_env = {**os.environ, **(env or {})}
    if namespaces_available():
        fill = f'head -c $(( $(df -B1 --output=avail "$dir" | tail -1) - {free // PAGE * PAGE} )) /dev/zero > "$dir/.filler" || true'
        return _in_namespace(argv, folder, "size=1m", fill, cwd=cwd, env=full_env, timeout=timeout, stdin=stdin)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max(free, 1), max(free, 1)))

    return subprocess.run(
        list(argv), cwd=cwd, env=full_env, input=stdin, capture_output=True, text=True, timeout=timeout,
        preexec_fn=limit, check=False,
    )


def read_only_run(
    argv: Sequence[str], folder: Path, *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` while ``folder`` (with its current content) is read-only."""
    full_env = {**os.environ, **(env or {})}
    if namespaces_available():
        return _in_namespace(argv, folder, "ro", "", cwd=cwd, env=full_env, timeout=timeout, stdin=stdin)
    if os.geteuid() == 0:
        raise RuntimeError(
            "a read-only folder needs `unshare --user --map-root-user --mount` when running as root"
        )
    folder.mkdir(parents=True, exist_ok=True)
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
    for p in modes:
        p.chmod(0o555)
    try:
        return subprocess.run(list(argv), cwd=cwd, env=full_env, input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def python_argv(*args: str) -> list[str]:
    """``python -m opi_cli ARGS`` as an argv list, for the runners above."""
    return [sys.executable, "-m", "opi_cli", *args]
