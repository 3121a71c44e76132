"""Python extensions in the real `opi` process: tools the mock model calls, entry points, failures, trust."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.conftest import ROOT, run_opi
from tests.customize.helpers import call, opi_args, system_prompt, text, tool_results
from tests.mock_llm import MockLLM

EXAMPLE = ROOT / "examples" / "extension" / "opi_wordcount" / "__init__.py"


def _allow_project_code(opi_home: Path) -> None:
    (opi_home / "settings.json").write_text(json.dumps({"allowProjectCode": True}))


def _project_extension(workdir: Path, name: str, source: str) -> Path:
    folder = workdir / ".opi" / "extensions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(source)
    return path


def test_a_project_extension_adds_a_tool_the_model_calls(workdir: Path, opi_home: Path) -> None:
    _allow_project_code(opi_home)
    _project_extension(workdir, "wordcount", EXAMPLE.read_text())
    (workdir / "notes.txt").write_text("one two three\nfour\n")
    script = {"responses": [call("word_count", {"path": "notes.txt"}), text("4 words.")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "count the words in notes.txt"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "4 words." + "\n" and proc.stderr == ""
    tools = {t["function"]["name"]: t["function"] for t in requests[0]["body"]["tools"]}
    assert tools["word_count"]["parameters"]["properties"]["path"]["type"] == "string"
    assert "- word_count: Count the lines, words and characters of a text file." in system_prompt(requests[0])
    assert tool_results(requests[1]) == ["notes.txt: 2 lines, 4 words, 19 characters"]


def test_an_extension_event_handler_blocks_a_tool_call(workdir: Path, opi_home: Path) -> None:
    _allow_project_code(opi_home)
    _project_extension(workdir, "wordcount", EXAMPLE.read_text())
    script = {"responses": [call("bash", {"command": "git push --force origin main"}), text("ok")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "push"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert tool_results(requests[1]) == ["Blocked by a PreToolUse hook: Force pushes are not allowed here; push normally."]


def test_project_code_is_refused_headless_unless_allowed(workdir: Path, opi_home: Path) -> None:
    _project_extension(workdir, "evil", "open('pwned', 'w').write('x')\ndef register(opi):\n    pass\n")
    with MockLLM({"responses": [text("ok")]}) as srv:
        proc = run_opi(opi_args(srv, "hi"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0 and proc.stdout == "ok\n"
    assert not (workdir / "pwned").exists()
    assert proc.stderr.startswith(f"opi: Extensions in {workdir / '.opi' / 'extensions'} were not loaded")
    assert proc.stderr.count("\n") == 1
    assert [t["function"]["name"] for t in requests[0]["body"]["tools"]] == ["read", "bash", "edit", "write"]
    # the setting in the project's own settings cannot allow it
    (workdir / ".opi" / "settings.json").write_text(json.dumps({"allowProjectCode": True}))
    with MockLLM({"responses": [text("ok")]}) as srv:
        run_opi(opi_args(srv, "hi"), cwd=workdir)
    assert not (workdir / "pwned").exists()


def test_an_extension_that_raises_is_disabled_with_one_line(workdir: Path, opi_home: Path) -> None:
    _allow_project_code(opi_home)
    broken = _project_extension(workdir, "broken", "def register(opi):\n    raise RuntimeError('needs FOO_TOKEN')\n")
    bad_event = _project_extension(
        workdir, "flaky",
        "def register(opi):\n"
        "    def boom(event):\n        raise KeyError('tool_input')\n"
        "    opi.on('PreToolUse', boom)\n",
    )
    script = {"responses": [call("bash", {"command": "echo hi"}), call("bash", {"command": "echo again"}, "c2"),
                            text("done")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "hi"), cwd=workdir)
        requests = srv.requests
    assert proc.returncode == 0 and proc.stdout == "done\n"
    lines = proc.stderr.splitlines()
    assert lines[0] == (f"opi: Extension broken ({broken}) disabled: it raised RuntimeError: needs FOO_TOKEN "
                        "while loading.")
    assert f"opi: Extension flaky ({bad_event}) disabled: it raised KeyError: 'tool_input' on PreToolUse." in lines
    assert sum("flaky" in line for line in lines) == 1  # said once, then it stays off
    assert tool_results(requests[1]) == ["hi\n"] and tool_results(requests[2])[-1] == "again\n"


def _fake_installed_package(site: Path) -> None:
    """A package with an opi.extensions entry point, as pip would leave it (no install needed)."""
    shutil.copytree(EXAMPLE.parent, site / "opi_wordcount")
    dist = site / "opi_wordcount-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: opi-wordcount\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[opi.extensions]\nwordcount = opi_wordcount:register\n")


def test_an_installed_entry_point_is_loaded_and_listed(workdir: Path, opi_home: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _fake_installed_package(site)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    (workdir / "a.txt").write_text("alpha beta\n")
    script = {"responses": [call("word_count", {"path": "a.txt"}), text("2")]}
    with MockLLM(script) as srv:
        proc = run_opi(opi_args(srv, "count"), cwd=workdir, env=env)
        requests = srv.requests
    assert proc.returncode == 0, proc.stderr
    assert tool_results(requests[1]) == ["a.txt: 1 lines, 2 words, 11 characters"]
    listing = run_opi(["extensions"], cwd=workdir, env=env)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines() == [
        "wordcount  loaded",
        "  from: opi-wordcount 0.1.0 (opi_wordcount:register)",
        "  adds: tools: word_count; commands: /wc; events: PreToolUse, tool_execution_end",
    ]
    # uninstalling it (the folder changes) is noticed although the answer is cached
    assert (opi_home / "cache" / "entry-points.json").exists()
    shutil.rmtree(site / "opi_wordcount-0.1.0.dist-info")
    gone = run_opi(["extensions"], cwd=workdir, env=env)
    assert gone.stdout.startswith("No extensions.")


def test_opi_extensions_lists_files_and_trust(workdir: Path, opi_home: Path) -> None:
    path = _project_extension(workdir, "wordcount", EXAMPLE.read_text())
    refused = run_opi(["extensions"], cwd=workdir)
    assert refused.returncode == 0
    lines = refused.stdout.splitlines()
    assert lines[:2] == ["wordcount  not loaded: this folder's code is not allowed", f"  from: {path}"]
    assert "not allowed yet (the REPL asks once)" in lines[2]
    _allow_project_code(opi_home)
    allowed = run_opi(["extensions"], cwd=workdir).stdout.splitlines()
    assert allowed[:3] == ["wordcount  loaded", f"  from: {path}",
                           "  adds: tools: word_count; commands: /wc; events: PreToolUse, tool_execution_end"]
    assert allowed[3].endswith(f"allowed. Answers are kept in {opi_home / 'trusted-projects.json'}.")
