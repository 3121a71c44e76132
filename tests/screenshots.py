"""Make the README's screenshots from the real program: ``python -m tests.screenshots``.

Not part of ``make test``. It runs ``make demo``'s scripted session (tests/demo.py: the
mock LLM, a throwaway repository) in the real ``opi chat`` inside a pseudo-terminal, sends
a steering message while the slow check runs, and keeps what the terminal shows (a pyte
screen, colours included). That screen becomes an HTML page of coloured cells, and headless
Chromium photographs it: ``docs/images/repl.png``. Then the real ``opi export`` writes the
session as HTML and Chromium photographs the page: ``docs/images/export.png``.

Needs Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.demo import FIRST_MESSAGE, SCRIPT, make_repo
from tests.mock_llm import MockLLM
from tests.repl.driver import ReplDriver

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
ROWS, COLS = 40, 104

# xterm's 16 colours, as pyte names them
_NAMED = {
    "black": "#1e1e1e", "red": "#cd3131", "green": "#0dbc79", "brown": "#e5e510", "yellow": "#e5e510",
    "blue": "#2472c8", "magenta": "#bc3fbc", "cyan": "#11a8cd", "white": "#e5e5e5",
    "brightblack": "#666666", "brightred": "#f14c4c", "brightgreen": "#23d18b", "brightbrown": "#f5f543",
    "brightyellow": "#f5f543", "brightblue": "#3b8eea", "brightmagenta": "#d670d6", "brightcyan": "#29b8db",
    "brightwhite": "#ffffff",
}
_FG, _BG = "#d4d4d4", "#1e1e1e"


def _colour(value: str, default: str) -> str:
    if value == "default":
        return default
    if len(value) == 6 and all(c in "0123456789abcdefABCDEF" for c in value):
        return "#" + value
    return _NAMED.get(value, default)


def screen_html(drv: ReplDriver) -> str:
    """The pty's screen as an HTML page: one ``<span>`` per run of equally styled cells."""
    rows = []
    for y in range(drv.screen.lines):
        line = drv.screen.buffer[y]
        spans: list[str] = []
        run: list[str] = []
        style = ""
        for x in range(drv.screen.columns):
            ch = line[x]
            fg, bg = _colour(ch.fg, _FG), _colour(ch.bg, _BG)
            if ch.reverse:
                fg, bg = bg, fg
            css = f"color:{fg};background:{bg}"
            if ch.bold:
                css += ";font-weight:bold"
            if ch.italics:
                css += ";font-style:italic"
            if css != style and run:
                spans.append(f'<span style="{style}">{html.escape("".join(run))}</span>')
                run = []
            style = css
            run.append(ch.data or " ")
        if run:
            spans.append(f'<span style="{style}">{html.escape("".join(run))}</span>')
        rows.append("".join(spans))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
        f"body{{margin:0;background:{_BG}}}pre{{margin:0;padding:14px 16px;font:15px/1.3 'DejaVu Sans Mono',monospace;"
        f"color:{_FG};background:{_BG}}}</style></head><body><pre>" + "\n".join(rows) + "</pre></body></html>"
    )


def shoot(page: Path, png: Path, width: int, height: int, profile: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("Chromium is needed: apt-get install chromium")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )


def _drive(repo: Path, env: dict[str, str], srv: MockLLM) -> tuple[str, str]:
    """Run the demo conversation; returns (screen as HTML, session file)."""
    args = ["-m", "opi_cli", "chat", "--base-url", f"{srv.base_url}/v1", "--provider", "openai", "--api",
            "openai-completions", "--api-key", "demo", "--model", "mock-model", FIRST_MESSAGE]
    drv = ReplDriver(args, repo, rows=ROWS, cols=COLS, env=env)
    try:
        drv.wait_for("checking (1/5)", timeout=60)
        drv.type_line("please also add a docstring")
        drv.wait_for("Anything else?", timeout=60)
        drv.wait_for(lambda: "Working..." not in drv.screen_text(), timeout=30)
        drv.pump(0.5)
        page = screen_html(drv)
        drv.send("\x04")
        drv.wait_exit()
    finally:
        drv.close()
    files = sorted(Path(env["OPI_HOME"]).glob("sessions/*/*.jsonl"))
    return page, str(files[-1])


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="opi-shots-") as tmp:
        base = Path(tmp)
        repo = make_repo(base)
        env: dict[str, Any] = {"OPI_HOME": str(base / "opi-home"), "HOME": str(base), "PYTHONPATH": str(ROOT)}
        for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "NO_COLOR"):
            os.environ.pop(var, None)
        os.environ.update(env)
        with MockLLM(SCRIPT) as srv:
            page, session = _drive(repo, env, srv)
        (base / "repl.html").write_text(page, encoding="utf-8")
        shoot(base / "repl.html", IMAGES / "repl.png", 980, 830, base / "profile")
        out = base / "export.html"
        subprocess.run([sys.executable, "-m", "opi_cli", "export", session, str(out)], cwd=repo, env={**os.environ},
                       check=True, capture_output=True)
        shoot(out, IMAGES / "export.png", 1000, 1500, base / "profile")
        print(json.dumps({"repl": str(IMAGES / "repl.png"), "export": str(IMAGES / "export.png")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
