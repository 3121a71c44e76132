"""Markdown as safe, static HTML (markdown-it-py) with syntax-highlighted code (Pygments).

Used by the HTML export. Raw HTML in the text is shown as text, never as elements; links
keep their target and show the URL next to the words; images become links unless they are
inline ``data:`` images, so a page never loads anything remote. Code blocks are coloured by
Pygments into ``<pre class="hl">`` with class-based spans; :func:`highlight_css` gives the
matching style sheet (a light and a dark scheme). Both libraries are imported when the first
page is rendered (they come with rich), never at start-up.

:func:`markdown_safe` does the same job for Markdown that stays Markdown (the ``.md``
export): raw HTML outside code is escaped and images become links, code is left exactly as is.
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import Any

__all__ = ["escape_html", "highlight", "highlight_css", "markdown_safe", "render_markdown"]

_INLINE_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$")


def escape_html(text: str) -> str:
    """``text`` escaped for HTML (quotes included); lone surrogates become U+FFFD."""
    return html.escape(text.encode("utf-8", "replace").decode("utf-8"), quote=True)


def _lexer(lang: str = "", filename: str = "") -> Any:
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        if lang:
            return get_lexer_by_name(lang.lower())
        if filename:
            return get_lexer_for_filename(filename)
    except ClassNotFound:
        pass
    return None


def highlight(code: str, lang: str = "", *, filename: str = "") -> str:
    """``code`` as ``<pre class="hl"><code>`` with Pygments spans (plain escaped text when no
    lexer is known for ``lang`` or ``filename``)."""
    lexer = _lexer(lang, filename)
    if lexer is None:
        body = escape_html(code)
    else:
        from pygments import highlight as pyg_highlight
        from pygments.formatters import HtmlFormatter

        body = pyg_highlight(code.encode("utf-8", "replace").decode("utf-8"), lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="hl"><code>{body.rstrip(chr(10))}</code></pre>'


def highlight_css() -> str:
    """The style sheet of :func:`highlight`'s classes: a light scheme, a dark one for dark mode."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".hl")
    dark = HtmlFormatter(style="monokai").get_style_defs(".hl")
    return f"{light}\n@media (prefers-color-scheme:dark){{{dark}}}"


def _link_text(tokens: Any, close: int) -> tuple[str, int]:
    """The plain text of the link closed at ``tokens[close]``, and the index of its open token."""
    depth, parts = 0, list[str]()
    for i in range(close - 1, -1, -1):
        t = tokens[i]
        if t.type == "link_close":
            depth += 1
        elif t.type == "link_open":
            if depth == 0:
                return "".join(reversed(parts)), i
            depth -= 1
        elif t.type in ("text", "code_inline"):
            parts.append(t.content)
    return "".join(reversed(parts)), -1


def _link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "nofollow noreferrer")
    return str(self.renderToken(tokens, idx, options, env))


def _link_close(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    text, start = _link_text(tokens, idx)
    href = str(tokens[start].attrGet("href") or "") if start >= 0 else ""
    shown = "" if not href or text.strip() in (href, href.removeprefix("mailto:")) else (
        f' <span class="url">({escape_html(href)})</span>'
    )
    return "</a>" + shown


def _image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    if _INLINE_IMAGE.match(src):
        return f'<img src="{escape_html(src)}" alt="{escape_html(alt)}">'
    return (f'<a class="image-link" href="{escape_html(src)}" rel="nofollow noreferrer">{escape_html(alt)}</a>'
            f' <span class="url">(image: {escape_html(src)})</span>')


def _fence_highlight(code: str, lang: str, _attrs: Any) -> str:
    return highlight(code, lang.split()[0] if lang else "")


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "highlight": _fence_highlight})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("image", _image)
    return md


def render_markdown(text: str) -> str:
    """``text`` (Markdown) as HTML: headings, emphasis, lists, tables, links with their URLs,
    highlighted code; raw HTML escaped, remote images as links."""
    return str(_parser().render(text.encode("utf-8", "replace").decode("utf-8")))


# -- Markdown that stays Markdown -------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])(?![A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*>)(?![^\s<>@]+@[^\s<>]+>)")
_BACKTICKS = re.compile(r"`+")


def _prose_safe(text: str) -> str:
    """Escape tag starts and turn images into links, outside inline code spans."""
    out: list[str] = []
    pos = 0
    runs = list(_BACKTICKS.finditer(text))
    i = 0
    while i < len(runs):
        opening = runs[i]
        closing = next((r for r in runs[i + 1 :] if len(r.group()) == len(opening.group())), None)
        if closing is None:
            i += 1
            continue
        out.append(_escape(text[pos : opening.start()]))
        out.append(text[opening.start() : closing.end()])  # a code span, verbatim
        pos = closing.end()
        i = runs.index(closing) + 1
    out.append(_escape(text[pos:]))
    return "".join(out)


def _escape(prose: str) -> str:
    prose = _TAG_START.sub("&lt;", prose)
    return re.sub(r"(?<!\\)!\[", "[", prose)


def markdown_safe(text: str) -> str:
    """``text`` with raw HTML escaped and images turned into links, fenced code left verbatim,
    so a Markdown viewer runs nothing and loads nothing from it. Indented lines are treated
    as prose (escaped): an indented block may be a list item's paragraph, where raw HTML
    would be live, and a stray ``&lt;`` in real indented code is only cosmetic."""
    out: list[str] = []
    para: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if para:
            out.append(_prose_safe("\n".join(para)))
            para.clear()

    for line in text.split("\n"):
        if fence is not None:
            out.append(line)
            m = _FENCE.match(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip(" `~"):
                fence = None
            continue
        m = _FENCE.match(line)
        if m:
            flush()
            fence = m.group(1)
            out.append(line)
        elif not line.strip():
            flush()
            out.append(line)
        else:
            para.append(line)
    flush()
    return "\n".join(out)
