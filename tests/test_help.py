"""`opi --help` is what users read first: snapshot it (review changes like code) and keep README in step."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, run_opi

SNAPSHOT = Path(__file__).parent / "snapshots" / "help.txt"


def test_root_help_snapshot(tmp_path: Path) -> None:
    proc = run_opi(["--help"], cwd=tmp_path, env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"})
    assert proc.returncode == 0
    assert proc.stdout == SNAPSHOT.read_text(encoding="utf-8")


def test_every_command_in_help_is_in_the_readme(tmp_path: Path) -> None:
    proc = run_opi(["--help"], cwd=tmp_path, env={"COLUMNS": "100"})
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert commands
    for name in commands:
        assert f"opi {name}" in readme, name


def test_chat_help_lists_the_common_options(tmp_path: Path) -> None:
    proc = run_opi(["chat", "--help"], cwd=tmp_path, env={"COLUMNS": "100"})
    for flag in ("--model", "--provider", "--base-url", "--api-key", "--thinking", "--tools", "--no-session",
                 "--session-dir", "--store", "--system-prompt", "--append-system-prompt", "--max-turns", "--json"):
        assert flag in proc.stdout, flag
