from __future__ import annotations

import json

from opi_cli._util.abort import AbortSignal
from opi_cli.tools import BashTool, FindTool, GrepTool, create_builtin_tools
from tests.tools.conftest import run
from tests.tools.fakes import MemoryFileOps, ScriptedShellOps

FILES = {
    "/w/.gitignore": b"*.log\n",
    "/w/a.py": b"x = 1\nTODO a\n",
    "/w/b.log": b"TODO log\n",
    "/w/sub/c.py": b"TODO c\n",
}


async def test_tools_work_on_an_in_memory_file_system() -> None:
    ops = MemoryFileOps(FILES)
    tools = create_builtin_tools("/w", file_ops=ops, shell_ops=ScriptedShellOps({}, b""), home="/home/u")
    assert (await run(tools["read"], {"path": "a.py", "offset": 2})).text == "TODO a\n"
    await run(tools["write"], {"path": "new/d.txt", "content": "hi"})
    assert ops.files["/w/new/d.txt"] == b"hi"
    await run(tools["edit"], {"path": "a.py", "oldText": "x = 1", "newText": "x = 2"})
    assert ops.files["/w/a.py"] == b"x = 2\nTODO a\n"
    assert (await run(tools["ls"], {})).text == ".gitignore\na.py\nb.log\nnew/\nsub/"
    assert (await run(tools["find"], {"pattern": "*.py"})).text == "a.py\nsub/c.py"
    assert (await run(tools["grep"], {"pattern": "TODO"})).text == "a.py:2: TODO a\nsub/c.py:1: TODO c"


async def test_bash_through_scripted_shell_spills_to_fake_temp_file() -> None:
    ops = MemoryFileOps({"/w/x": b""})
    output = "".join(f"{i}\n" for i in range(2500)).encode()
    shell = ScriptedShellOps({}, output)
    result = await run(BashTool("/w", ops, shell), {"command": "anything"})
    assert shell.argvs == [["sh", "-c", "anything"]]
    path = result.text.rsplit("Full output: ", 1)[1].rstrip("]")
    assert ops.files[path] == output and path in ops.closed


def _rg_events(hits: list[tuple[str, int]]) -> bytes:
    lines = [json.dumps({"type": "begin", "data": {}})]
    for path, number in hits:
        lines.append(json.dumps({"type": "match", "data": {"path": {"text": path}, "line_number": number}}))
    lines.append(json.dumps({"type": "summary", "data": {}}))
    return ("\n".join(lines) + "\n").encode()


async def test_ripgrep_backend_formats_like_python() -> None:
    ops = MemoryFileOps(FILES)
    shell = ScriptedShellOps({"rg": "/usr/bin/rg"}, _rg_events([("/w/a.py", 2), ("/w/sub/c.py", 1)]))
    with_rg = await run(GrepTool("/w", ops, shell), {"pattern": "TODO", "context": 1})
    without = await run(GrepTool("/w", ops, shell, use_external=False), {"pattern": "TODO", "context": 1})
    assert with_rg.text == without.text == "a.py-1- x = 1\na.py:2: TODO a\nsub/c.py:1: TODO c"
    argv = shell.argvs[0]
    assert argv[0] == "/usr/bin/rg" and "--json" in argv and argv[-2:] == ["--", "/w"]


async def test_ripgrep_backend_stops_at_limit() -> None:
    ops = MemoryFileOps({"/w/m.txt": b"hit\n" * 10})
    shell = ScriptedShellOps({"rg": "rg"}, _rg_events([("/w/m.txt", i) for i in range(1, 11)]))
    result = await run(GrepTool("/w", ops, shell), {"pattern": "hit", "limit": 2})
    assert (
        result.text
        == "m.txt:1: hit\nm.txt:2: hit\n\n[2 matches limit reached. Use limit=4 for more, or refine pattern]"
    )


async def test_fd_backend_formats_like_python() -> None:
    ops = MemoryFileOps(FILES)
    shell = ScriptedShellOps({"fdfind": "/usr/bin/fdfind"}, b"/w/sub/c.py\n/w/a.py\n/w/sub/\n")
    with_fd = await run(FindTool("/w", ops, shell), {"pattern": "*"})
    without = await run(FindTool("/w", ops, shell, use_external=False), {"pattern": "*"})
    assert with_fd.text == "a.py\nsub/\nsub/c.py"
    assert (
        without.text == ".gitignore\na.py\nsub/\nsub/c.py"
    )  # fd hides nothing here only because it is scripted
    assert shell.argvs[0][0] == "/usr/bin/fdfind"


async def test_external_binary_ignored_when_disabled() -> None:
    shell = ScriptedShellOps({"rg": "rg"}, b"garbage")
    await run(
        GrepTool("/w", MemoryFileOps(FILES), shell, use_external=False), {"pattern": "x"}, AbortSignal()
    )
    assert shell.argvs == []
