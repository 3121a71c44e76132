"""The Typer-free reader of a plain run's line (cli/fast_args.py) agrees with the Typer app.

For every line the fast reader accepts, Typer must accept it too and hand the default
command the very same RunOptions; every other line is left to Typer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opi_cli.cli import run_flow
from opi_cli.cli.fast_args import parse_run
from opi_cli.cli.main import run_app
from opi_cli.cli.options import OPTIONS, RunOptions
from tests.conftest import ROOT, run_opi


def typer_reading(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> RunOptions | None:
    """What the Typer app hands the default command for ``argv`` (None: it refused, or ran another)."""
    seen: list[RunOptions] = []

    def capture(opts: RunOptions) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setattr(run_flow, "guarded", capture)
    try:
        run_app(list(argv))
    except SystemExit as exc:
        if exc.code not in (0, None):
            return None
    return seen[0] if seen else None


LINES = [
    ["-p", "hello", "world"],
    ["--json", "--model", "m", "--provider=p", "fix", "the", "bug"],
    ["fix", "-m", "x", "it", "--then", "a", "--then=b", "--append-system-prompt", "s"],
    ["--max-turns", "3", "--max-cost", "0.5", "--timeout=1e3", "-p", "go"],
    ["--model", "a", "--model", "b", "-p", "last wins"],
    ["-p", "--", "--json", "-m", "resume"],
    ["-c", "--no-session", "--debug", "--json", "-"],
    ["-p", ""],
    [],
    ["--mode", "rpc"],
    ["--verbose", "--output-format", "stream-json", "-p", "x"],
]
LEFT_TO_TYPER = [
    ["--help"], ["-p", "x", "--version"], ["resume", "abc"], ["--model", "m", "sessions"],
    ["--max-turns", "0", "-p", "x"], ["--max-turns", "many"], ["--max-turns", " 3"], ["--timeout", "soon"],
    ["-pc", "x"], ["-mgpt", "x"], ["--json=yes", "x"], ["--model"], ["--model", "-p", "x"], ["--nope", "x"],
    ["-p", "a", "-p", "b"], ["-5"],
]


@pytest.mark.parametrize("argv", LINES)
def test_plain_lines_read_the_same_without_typer(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = parse_run(argv)
    assert fast is not None, f"the fast reader left a plain line to Typer: {argv}"
    assert fast == typer_reading(argv, monkeypatch)


@pytest.mark.parametrize("argv", LEFT_TO_TYPER)
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse_run(argv) is None


_SPELLINGS = [decl for spec in OPTIONS for decl in spec.decls]
_VALUES = ["", "-", "-x", "0", "1", "-1", "2.5", "1e2", "abc", "x y", "@file", "é"]
_TOKENS = st.one_of(
    st.sampled_from(_SPELLINGS),
    st.builds(lambda d, v: f"{d}={v}", st.sampled_from([d for d in _SPELLINGS if d.startswith("--")]),
              st.sampled_from(_VALUES)),
    st.sampled_from([*_VALUES, "--", "--nope", "-pc", "-mx", "--help", "-h", "-v", "chat", "resume", "sessions",
                     "doctor"]),
    st.text(alphabet="ab-=1. ", max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=8))
def test_any_line_the_fast_reader_accepts_typer_reads_the_same(argv: list[str]) -> None:
    fast = parse_run(argv)
    if fast is None:
        return
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert fast == typer_reading(argv, monkeypatch), argv


def _loads_typer(argv: list[str], cwd: Path) -> bool:
    """Whether running ``argv`` in-process (up to its exit) imported Typer."""
    code = ("import sys\nfrom opi_cli.cli.entry import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('typer' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1:] in (["True"], ["False"]), out.stderr
    return out.stdout.strip().endswith("True")


def test_a_plain_run_does_not_load_typer(workdir: Path) -> None:
    assert not _loads_typer(["-p", "--model", "nope/none", "hi"], workdir)  # fails to start, without Typer
    assert _loads_typer(["-p", "--max-turns", "0x", "hi"], workdir)  # a value only Typer can judge
    refused = run_opi(["-p", "--max-turns", "0x", "hi"], cwd=workdir)
    assert refused.returncode == 2 and "Invalid value for '--max-turns'" in refused.stderr
