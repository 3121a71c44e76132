from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from opi_cli._util.abort import AbortController
from opi_cli.agent.tool import Tool
from opi_cli.tools import FindTool, GrepTool, LocalFileOps, LocalShellOps
from tests.tools.conftest import run


@pytest.fixture
def repo(cwd: Path) -> Path:
    files = {
        ".gitignore": "*.log\nbuild/\n/secret.txt\n!keep.log\n",
        "app.py": "import os\nprint('hello')\n# TODO one\n",
        "keep.log": "TODO kept\n",
        "debug.log": "TODO ignored\n",
        "secret.txt": "TODO secret\n",
        "build/out.py": "TODO built\n",
        ".hidden/conf.py": "TODO hidden\n",
        ".git/config": "TODO git internals\n",
        "src/lib.py": "def f():\n    # TODO two\n    return 1\n",
        "src/secret.txt": "TODO not anchored\n",
        "src/.gitignore": "gen_*.py\n",
        "src/gen_a.py": "TODO generated\n",
        "src/deep/Notes.MD": "todo lower\n",
    }
    for rel, text in files.items():
        path = cwd / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (cwd / "blob.bin").write_bytes(b"TODO\x00binary")
    return cwd


async def test_grep_honours_gitignore(tools: dict[str, Tool], repo: Path) -> None:
    result = await run(tools["grep"], {"pattern": "TODO"})
    assert result.text == "\n".join(
        [
            ".hidden/conf.py:1: TODO hidden",
            "app.py:3: # TODO one",
            "keep.log:1: TODO kept",
            "src/lib.py:2:     # TODO two",
            "src/secret.txt:1: TODO not anchored",
        ]
    )


async def test_grep_options(tools: dict[str, Tool], repo: Path) -> None:
    result = await run(tools["grep"], {"pattern": "todo", "ignoreCase": True, "path": "src/deep"})
    assert result.text == "Notes.MD:1: todo lower"
    result = await run(tools["grep"], {"pattern": "print(", "literal": True})
    assert result.text == "app.py:2: print('hello')"
    result = await run(tools["grep"], {"pattern": "TODO", "glob": "*.py"})
    assert result.text.split("\n") == [
        ".hidden/conf.py:1: TODO hidden",
        "app.py:3: # TODO one",
        "src/lib.py:2:     # TODO two",
    ]
    result = await run(tools["grep"], {"pattern": "TODO", "glob": "!src"})
    assert "src/" not in result.text and "app.py:3" in result.text


async def test_grep_context_and_single_file(tools: dict[str, Tool], repo: Path) -> None:
    result = await run(tools["grep"], {"pattern": "TODO", "path": "src/lib.py", "context": 1})
    assert result.text == "lib.py-1- def f():\nlib.py:2:     # TODO two\nlib.py-3-     return 1"


async def test_grep_limits_and_notices(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "many.txt").write_text("".join(f"hit {i}\n" for i in range(150)))
    result = await run(tools["grep"], {"pattern": "hit"})
    lines = result.text.split("\n")
    assert lines[99] == "many.txt:100: hit 99" and len(lines) == 102
    assert lines[-1] == "[100 matches limit reached. Use limit=200 for more, or refine pattern]"
    assert isinstance(result.details, dict) and result.details["matchLimitReached"] == 100
    result = await run(tools["grep"], {"pattern": "hit", "limit": 3})
    assert result.text.endswith("\n\n[3 matches limit reached. Use limit=6 for more, or refine pattern]")


async def test_grep_long_lines_and_byte_limit(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "wide.txt").write_text("".join("x" * 600 + "\n" for _ in range(100)))
    result = await run(tools["grep"], {"pattern": "x"})
    body, notice = result.text.split("\n\n")
    assert body.split("\n")[0] == "wide.txt:1: " + "x" * 500 + "... [truncated]"
    assert notice == (
        "[100 matches limit reached. Use limit=200 for more, or refine pattern. 50.0KB limit reached. "
        "Some lines truncated to 500 chars. Use read tool to see full lines]"
    )


async def test_grep_errors(tools: dict[str, Tool], cwd: Path) -> None:
    assert (await run(tools["grep"], {"pattern": "zzz"})).text == "No matches found"
    result = await run(tools["grep"], {"pattern": "x", "path": "nope"})
    assert result.is_error and result.text == f"Path not found: {cwd / 'nope'}"
    assert (await run(tools["grep"], {"pattern": "("})).is_error


async def test_find_honours_gitignore(tools: dict[str, Tool], repo: Path) -> None:
    result = await run(tools["find"], {"pattern": "*.py"})
    assert result.text == ".hidden/conf.py\napp.py\nsrc/lib.py"
    result = await run(tools["find"], {"pattern": "src/**/*.MD"})
    assert result.text == "src/deep/Notes.MD"
    result = await run(tools["find"], {"pattern": "*"})
    assert "src/\n" in result.text and "src/deep/" in result.text and "build" not in result.text
    assert ".git/" not in result.text and "debug.log" not in result.text


async def test_find_limits_and_errors(tools: dict[str, Tool], cwd: Path) -> None:
    for i in range(1005):
        (cwd / f"f{i:04}.txt").write_text("")
    result = await run(tools["find"], {"pattern": "*.txt"})
    lines = result.text.split("\n")
    assert lines[0] == "f0000.txt" and lines[999] == "f0999.txt"
    assert lines[-1] == "[1000 results limit reached. Use limit=2000 for more, or refine pattern]"
    assert (await run(tools["find"], {"pattern": "*.zz"})).text == "No files found matching pattern"
    result = await run(tools["find"], {"pattern": "*", "path": "missing"})
    assert result.is_error and result.text == f"Path not found: {cwd / 'missing'}"


async def test_ls(tools: dict[str, Tool], cwd: Path) -> None:
    for name in ("b.txt", "A.txt", ".env", "c"):
        (cwd / name).write_text("")
    (cwd / "Dir").mkdir()
    assert (await run(tools["ls"], {})).text == ".env\nA.txt\nb.txt\nc\nDir/"
    (cwd / "Dir" / "x").write_text("")
    assert (await run(tools["ls"], {"path": "Dir/x"})).text == f"Not a directory: {cwd / 'Dir' / 'x'}"
    assert (await run(tools["ls"], {"path": "zz"})).text == f"Path not found: {cwd / 'zz'}"
    (cwd / "empty").mkdir()
    assert (await run(tools["ls"], {"path": "empty"})).text == "(empty directory)"


async def test_ls_limit(tools: dict[str, Tool], cwd: Path) -> None:
    for i in range(501):
        (cwd / f"e{i:03}").write_text("")
    result = await run(tools["ls"], {})
    assert result.text.endswith("e499\n\n[500 entries limit reached. Use limit=1000 for more]")
    assert (await run(tools["ls"], {"limit": 501})).text.endswith("e500")


async def test_aborted_search(tools: dict[str, Tool], repo: Path) -> None:
    ctl = AbortController()
    ctl.abort()
    for name in ("grep", "find", "ls"):
        assert (await run(tools[name], {"pattern": "x"}, ctl.signal)).text == "Operation aborted"


async def test_ancestor_gitignore_inside_git_repo(tools: dict[str, Tool], repo: Path) -> None:
    (repo / ".git").mkdir(exist_ok=True)
    (repo / "src" / "x.log").write_text("TODO from log\n")
    result = await run(tools["grep"], {"pattern": "TODO", "path": "src"})
    assert "x.log" not in result.text and "lib.py:2" in result.text


@pytest.mark.skipif(shutil.which("rg") is None, reason="ripgrep not installed")
async def test_grep_same_with_ripgrep(repo: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=repo, check=False)
    ops, shell = LocalFileOps(), LocalShellOps()
    for args in (
        {"pattern": "TODO"},
        {"pattern": "TODO", "context": 1, "glob": "*.py"},
        {"pattern": "todo", "ignoreCase": True},
    ):
        with_rg = await run(GrepTool(str(repo), ops, shell), args)
        without = await run(GrepTool(str(repo), ops, shell, use_external=False), args)
        assert with_rg.text == without.text


@pytest.mark.skipif(shutil.which("fd") is None and shutil.which("fdfind") is None, reason="fd not installed")
async def test_find_same_with_fd(repo: Path) -> None:
    ops, shell = LocalFileOps(), LocalShellOps()
    for args in ({"pattern": "*.py"}, {"pattern": "*"}):
        with_fd = await run(FindTool(str(repo), ops, shell), args)
        without = await run(FindTool(str(repo), ops, shell, use_external=False), args)
        assert with_fd.text == without.text
