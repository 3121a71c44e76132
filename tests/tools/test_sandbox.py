"""The bubblewrap sandbox for bash: a real probe, real escapes refused, stopping reaches inside.

These tests never skip: a machine where bubblewrap cannot run fails them with the probe's
reason (CI installs Debian's ``bubblewrap``; see ``.ci/run``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from opi_cli._util.abort import AbortController
from opi_cli.tools import BashTool, LocalFileOps, LocalShellOps
from opi_cli.tools.sandbox import SandboxedShellOps, SandboxStatus, bwrap_argv, probe_sandbox, temp_dirs
from tests.outside import outside_folder
from tests.repl.test_repl_pty import _sleepers


async def working(mode: str, cwd: Path) -> SandboxStatus:
    status = await probe_sandbox(mode, str(cwd))  # type: ignore[arg-type]
    assert status.available, f"the {mode} sandbox cannot run on this machine: {status.problem}"
    return status


def bash(status: SandboxStatus, cwd: Path) -> BashTool:
    shell = SandboxedShellOps(LocalShellOps(), status, cwd=str(cwd), writable=temp_dirs())
    return BashTool(str(cwd), LocalFileOps(), shell)


async def run(tool: BashTool, command: str) -> tuple[bool, str]:
    result = await tool.execute("c", {"command": command}, AbortController().signal, None)
    return result.is_error, result.text


def test_argv_binds_the_folder_and_cuts_the_network(tmp_path: Path) -> None:
    argv = bwrap_argv("/usr/bin/bwrap", "workspace-write", str(tmp_path), ["/tmp"])
    assert argv[:5] == ["/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev"]
    assert ["--bind", str(tmp_path.resolve()), str(tmp_path.resolve())] == argv[argv.index(str(tmp_path.resolve())) - 1:][:3]
    assert "--unshare-net" in argv and argv[-1] == "--"
    ro = bwrap_argv("/usr/bin/bwrap", "read-only", str(tmp_path), ["/tmp"])
    assert "--bind" not in ro


async def test_workspace_write_inside_yes_outside_no(tmp_path: Path) -> None:
    cwd = tmp_path / "proj"
    cwd.mkdir()
    tool = bash(await working("workspace-write", cwd), cwd)
    err, text = await run(tool, "echo ok > inside.txt && cat inside.txt && echo tmp > /tmp/opi-sbx-$$ && rm /tmp/opi-sbx-$$")
    assert not err and "ok" in text
    with outside_folder() as outside:  # a folder that exists and we may write, outside the sandbox's
        for target in ("/etc/opi-sandbox-test", "/usr/opi-sandbox-test", str(outside / "escaped")):
            err, text = await run(tool, f"echo x > {target}")
            assert err and "Read-only file system" in text, (target, text)
            assert not os.path.exists(target)


async def test_no_network_and_no_host_sockets(tmp_path: Path) -> None:
    tool = bash(await working("workspace-write", tmp_path), tmp_path)
    err, text = await run(tool, "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=5)\"")
    assert err and ("Network is unreachable" in text or "unreachable" in text.lower()), text
    err, text = await run(tool, "ls -A /run | wc -l")
    assert not err and text.strip() == "0"  # /run (docker.sock, dbus, ...) is an empty tmpfs


async def test_read_only_writes_nowhere(tmp_path: Path) -> None:
    tool = bash(await working("read-only", tmp_path), tmp_path)
    err, text = await run(tool, "echo x > inside.txt")
    assert err and "Read-only file system" in text and not (tmp_path / "inside.txt").exists()
    err, text = await run(tool, "cat /etc/hostname > /dev/null && echo READ")
    assert not err and "READ" in text


async def test_abort_kills_the_sandboxed_process_tree(tmp_path: Path) -> None:
    tool = bash(await working("workspace-write", tmp_path), tmp_path)
    marker = f"40.{os.getpid() % 1000:03d}3"
    controller = AbortController()
    task = asyncio.ensure_future(tool.execute("c", {"command": f"sleep {marker} & sleep {marker}"},
                                              controller.signal, None))
    for _ in range(400):
        if len(_sleepers(marker)) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(_sleepers(marker)) == 2
    controller.abort("stop")
    result = await asyncio.wait_for(task, 60)
    assert result.is_error and "aborted" in result.text
    for _ in range(200):
        if not _sleepers(marker):
            break
        await asyncio.sleep(0.05)
    assert _sleepers(marker) == []


async def test_an_unavailable_sandbox_refuses_commands_and_says_why(tmp_path: Path) -> None:
    status = await probe_sandbox("workspace-write", str(tmp_path), bwrap=str(tmp_path / "no-such-bwrap"))
    assert not status.available and "cannot run" in (status.problem or "")
    assert "bash commands are refused" in status.describe()
    err, text = await run(bash(status, tmp_path), "touch x")
    assert err and "sandbox cannot run on this machine" in text and not (tmp_path / "x").exists()


@pytest.mark.parametrize("mode", ["workspace-write", "read-only"])
async def test_probe_reports_a_failing_bwrap(tmp_path: Path, mode: str) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    status = await probe_sandbox(mode, str(tmp_path), bwrap=str(fake))  # type: ignore[arg-type]
    assert not status.available
    assert status.problem == "bwrap failed: bwrap: setting up uid map: Permission denied"
