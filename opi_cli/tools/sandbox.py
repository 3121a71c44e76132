"""A sandbox for the ``bash`` tool: bubblewrap, with writes limited to chosen folders and no network.

Modes (Codex's names): ``workspace-write`` lets commands write only inside the working
folder and the temp folders; ``read-only`` lets them write nowhere; ``off`` runs them as
they are. Both sandboxed modes cut the network (a private network namespace: not even
the host's loopback), hide the sockets under ``/run``, and give the command its own
process namespace, which dies with it.

:func:`probe_sandbox` runs bubblewrap once with the real arguments (``true`` as the
command), because an installed ``bwrap`` still fails where the kernel or a container
forbids user namespaces; only a probe that succeeded counts as a working sandbox.
:class:`SandboxedShellOps` wraps every command in it, or refuses every command with the
probe's reason when it cannot run: a requested sandbox is never silently skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

from opi_cli._util.records import record
from opi_cli.errors import ToolError
from opi_cli.tools.ops import ShellOps, ShellProcess
from opi_cli.tools.trust_modes import SANDBOX_MODES, SandboxMode

__all__ = [
    "SANDBOX_MODES",
    "SandboxMode",
    "SandboxStatus",
    "SandboxedShellOps",
    "bwrap_argv",
    "probe_sandbox",
    "temp_dirs",
]

_PROBE_TIMEOUT = 20.0


@record
class SandboxStatus:
    """What the probe found: ``available`` with ``mechanism``, or ``problem`` saying why not."""

    mode: SandboxMode
    available: bool
    mechanism: str | None = None
    problem: str | None = None

    def describe(self) -> str:
        """One line for the user."""
        if self.mode == "off":
            return "sandbox: off (bash runs without one)"
        if self.available:
            return f"sandbox: {self.mode} ({self.mechanism}: writes only in the working and temp folders, no network)" \
                if self.mode == "workspace-write" else f"sandbox: read-only ({self.mechanism}: no writes, no network)"
        return (f"sandbox {self.mode} cannot run here ({self.problem}); bash commands are refused. "
                "Install bubblewrap (Debian: apt-get install bubblewrap) or use --sandbox off.")


def temp_dirs() -> list[str]:
    """The temp folders a workspace-write command may write to (those that exist)."""
    found = [tempfile.gettempdir(), "/tmp", "/var/tmp"]
    return [d for d in dict.fromkeys(os.path.realpath(p) for p in found) if os.path.isdir(d)]


def bwrap_argv(bwrap: str, mode: SandboxMode, cwd: str, writable: Sequence[str]) -> list[str]:
    """The bubblewrap prefix for ``mode``: the whole tree read-only, then ``cwd`` and
    ``writable`` bound read-write (workspace-write), a private /dev, /proc and /run."""
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    real_cwd = os.path.realpath(cwd)
    if os.path.isdir("/run") and not (real_cwd + "/").startswith("/run/"):
        argv += ["--tmpfs", "/run"]  # host sockets (docker, dbus, X11) stay out of reach
    if mode == "workspace-write":
        for folder in dict.fromkeys([*writable, real_cwd]):
            argv += ["--bind", folder, folder]
    argv += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
             "--chdir", real_cwd, "--"]
    return argv


async def probe_sandbox(mode: SandboxMode, cwd: str, *, bwrap: str | None = None) -> SandboxStatus:
    """Whether ``mode`` works on this machine, found by running bubblewrap once."""
    if mode == "off":
        return SandboxStatus("off", True)
    path = bwrap or shutil.which("bwrap")
    if path is None:
        return SandboxStatus(mode, False, problem="bubblewrap (bwrap) is not installed")
    argv = [*bwrap_argv(path, mode, cwd, temp_dirs()), "true"]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), _PROBE_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return SandboxStatus(mode, False, problem="bwrap did not finish its start-up check")
    except OSError as exc:
        return SandboxStatus(mode, False, problem=f"cannot run {path}: {exc.strerror or exc}")
    if proc.returncode != 0:
        first = (err.decode("utf-8", "replace").strip().splitlines() or [f"exit code {proc.returncode}"])[0]
        return SandboxStatus(mode, False, problem=f"bwrap failed: {first}")
    return SandboxStatus(mode, True, mechanism="bubblewrap")


class SandboxedShellOps:
    """A :class:`ShellOps` that runs every process inside the sandbox of ``status``.

    Args:
        inner: starts the (wrapped) processes.
        status: a probe result; when not available, every spawn raises :class:`ToolError`.
        cwd: the working folder (writable in workspace-write).
        writable: further writable folders (the temp folders).
        bwrap: the bubblewrap executable.
        shell: the shell for :meth:`spawn_shell`.
    """

    def __init__(
        self,
        inner: ShellOps,
        status: SandboxStatus,
        *,
        cwd: str,
        writable: Sequence[str] = (),
        bwrap: str | None = None,
        shell: str | None = None,
    ) -> None:
        self._inner = inner
        self.status = status
        self._cwd = cwd
        self._writable = list(writable)
        self._bwrap = bwrap or shutil.which("bwrap") or "bwrap"
        self._shell = shell or ("/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh")

    def which(self, name: str) -> str | None:
        return self._inner.which(name)

    async def spawn_shell(self, command: str, cwd: str) -> ShellProcess:
        return await self.spawn([self._shell, "-c", command], cwd)

    async def spawn(self, argv: Sequence[str], cwd: str) -> ShellProcess:
        st = self.status
        if not st.available:
            raise ToolError(
                f"Not run: the {st.mode} sandbox cannot run on this machine ({st.problem}). "
                "Ask the user to install bubblewrap or to start opi with --sandbox off."
            )
        if st.mode == "off":
            return await self._inner.spawn(argv, cwd)
        prefix = bwrap_argv(self._bwrap, st.mode, self._cwd, self._writable)
        prefix[prefix.index("--chdir") + 1] = os.path.realpath(cwd)
        return await self._inner.spawn([*prefix, *argv], cwd)
