"""Exports a person wants to read (issue 12) and that never carry active content (issue 11).

A real session (the real ``opi --json`` against the mock: thinking, Markdown, a bash call,
an edit) is exported by the real ``opi export``. The HTML page is loaded in headless
Chromium and the assertions read the DOM Chromium built; a loopback server counts every
request the page makes (there must be none). The Markdown export must not carry raw HTML
or remote images that a Markdown viewer would run or load.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from tests.conftest import run_opi
from tests.mock_llm import MockLLM


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert found, "headless Chromium is needed for this test: apt-get install chromium (.ci/run installs it)"
    return found


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM Chromium builds for ``page`` (after load), as HTML text."""
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and "<body" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


class _Counter(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Dom(HTMLParser):
    """Elements (tag, attributes, text inside) of a DOM dump, for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        texts: list[str] = []
        self.elements.append((tag, {k: v or "" for k, v in attrs}, texts))
        if tag not in ("br", "hr", "img", "meta", "input", "link", "col", "wbr"):
            self._open.append(texts)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for texts in self._open:
            texts.append(data)

    def find(self, tag: str, text: str | None = None, **attrs: str) -> list[tuple[dict[str, str], str]]:
        out = []
        for t, a, texts in self.elements:
            whole = "".join(texts)
            if t != tag or (text is not None and text not in whole):
                continue
            if all(v in a.get(k.rstrip("_"), "").split() or a.get(k.rstrip("_")) == v for k, v in attrs.items()):
                out.append((a, whole))
        return out


REPLY = """# Findings

The **config** has an *odd* default and ~~no~~ one `PORT` constant.

## What to change

1. raise the limit
2. keep the cache
   - nested item

| file | lines |
|------|------:|
| app.py | 120 |
| util.py | 40 |

See [the docs](https://example.com/docs/config) and <https://example.org/raw>.

```python
def greet(name: str) -> str:
    return "Hello, " + name
```

<script>document.title = "PWNED"</script>
<img src="http://127.0.0.1:{port}/raw-img.png">
![tracker](http://127.0.0.1:{port}/md-img.png)
"""


def _make_session(workdir: Path, port: int) -> Path:
    (workdir / "greet.py").write_text("def greet(name):\n    return 'Helo, ' + name\n")
    script = {"responses": [
        {"steps": [{"thinking": "Let me **look** at the files first."}, {"text": "Listing the files."},
                   {"tool_call": {"name": "bash", "arguments": {"command": "ls -la && echo LISTED-OK"}}}]},
        {"steps": [{"tool_call": {"name": "edit", "arguments": {
            "path": "greet.py", "oldText": "'Helo, '", "newText": "'Hello, '"}}}]},
        {"steps": [{"text": REPLY.replace("{port}", str(port))}]},
    ]}
    with MockLLM(script) as srv:
        proc = run_opi(["--json", "--provider", "openai", "--api", "openai-completions", "--base-url",
                        f"{srv.base_url}/v1", "--api-key", "k", "--model", "mock-model", "review the config"],
                       cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout.splitlines()[-1])["sessionFile"])


def test_html_export_renders_markdown_tools_and_diffs_in_chromium(workdir: Path, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    _Counter.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session = _make_session(workdir, server.server_address[1])
        out = tmp_path / "page.html"
        proc = run_opi(["export", str(session), str(out)], cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        source = out.read_text()
        dom_text = dump_dom(out, tmp_path / "chromium-profile")
    finally:
        server.shutdown()
    # one self-contained file: no scripts, nothing fetched, nothing remote referenced
    assert _Counter.hits == []
    assert "<script" not in source.lower() and 'src="http' not in source and "<link" not in source
    dom = _Dom()
    dom.feed(dom_text)
    assert not dom.find("script") and not [a for t, a, _ in dom.elements if t == "img" and "http" in a.get("src", "")]
    assert "PWNED" not in dom_text.split("</title>")[0]
    # Markdown rendered: headings, emphasis, lists, tables, links with their URLs, code
    assert dom.find("h1", "Findings") and dom.find("h2", "What to change")
    assert dom.find("strong", "config") and dom.find("em", "odd") and (dom.find("s", "no") or dom.find("del", "no"))
    assert dom.find("ol") and dom.find("li", "raise the limit") and dom.find("li", "nested item")
    assert dom.find("th", "file") and dom.find("td", "util.py") and dom.find("td", "40")
    links = dom.find("a", "the docs")
    assert links and links[0][0]["href"] == "https://example.com/docs/config"
    assert "https://example.com/docs/config" in "".join(t for _, _, ts in dom.elements for t in ts)
    assert dom.find("code", "PORT")
    # the raw HTML and the remote image arrive as text / a link, never as elements
    assert '<script>document.title = "PWNED"</script>' in "".join(t for tag, _a, ts in dom.elements if tag == "p" for t in ts)
    assert dom.find("a", "tracker") and dom.find("span", "(image: http://127.0.0.1:")
    # code blocks are syntax-highlighted (pygments spans inside the block)
    code = dom.find("pre", "def greet(name: str)")
    assert code and dom.find("span", "def") and dom.find("span", '"Hello, "')
    # tool calls as readable blocks with their arguments and results
    bash = dom.find("div", "$ ls -la && echo LISTED-OK", class_="tool")
    assert bash and "LISTED-OK" in bash[0][1] and "greet.py" in bash[0][1]  # the command's output
    edit = dom.find("div", "edit greet.py", class_="tool")
    assert edit
    assert dom.find("span", "'Helo, '", class_="del") and dom.find("span", "'Hello, '", class_="add")
    # thinking collapsible, rendered too
    thinking = [a for a, text in dom.find("details", "Let me") if "thinking" in a.get("class", "")]
    assert thinking and dom.find("strong", "look")
    assert dom.find("summary", "Thinking")


def test_markdown_export_escapes_raw_html_and_remote_images(workdir: Path, tmp_path: Path) -> None:
    session = _make_session(workdir, 9)
    out = tmp_path / "notes.md"
    proc = run_opi(["export", str(session), str(out)], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    md = out.read_text()
    prose = md.split("```python")[0] + md.split("```python")[1].split("```", 1)[1]
    assert "<script" not in prose and "<img" not in prose and "![" not in md
    assert "&lt;script>" in md and "[tracker](http://127.0.0.1:9/md-img.png)" in md
    # code keeps its text exactly (a Markdown viewer shows code verbatim)
    assert 'def greet(name: str) -> str:\n    return "Hello, " + name' in md
    assert "`PORT`" in md and "# Findings" in md and "| util.py | 40 |" in md
