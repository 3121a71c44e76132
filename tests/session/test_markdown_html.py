"""Markdown made safe: rendered to static HTML, or kept as Markdown with nothing live in it."""

from __future__ import annotations

from opi_cli.session.markdown_html import markdown_safe, render_markdown


def test_markdown_safe_escapes_tags_and_images_outside_code() -> None:
    text = (
        "Hi <script>x()</script> and `<b>kept</b>` and <https://a.b/c> and <me@x.org>\n"
        "![pixel](https://evil.example/p.png) and \\![literal]\n"
        "```html\n<div>kept</div>\n![kept](x.png)\n```\n"
        "1. item\n\n    <img src=x onerror=y>\n"
        "~~~~\n<iframe>kept</iframe>\n~~~~\nafter <!-- c -->"
    )
    out = markdown_safe(text)
    assert "&lt;script>x()&lt;/script>" in out and "`<b>kept</b>`" in out
    assert "<https://a.b/c>" in out and "<me@x.org>" in out  # autolinks stay links
    assert "[pixel](https://evil.example/p.png)" in out and "![pixel]" not in out and "\\![literal]" in out
    assert "```html\n<div>kept</div>\n![kept](x.png)\n```" in out  # fenced code is verbatim
    assert "    &lt;img src=x onerror=y>" in out  # an indented line may be a list paragraph: escaped
    assert "~~~~\n<iframe>kept</iframe>\n~~~~" in out and "after &lt;!-- c -->" in out


def test_render_markdown_is_static_html() -> None:
    page = render_markdown(
        "# T\n\n<script>alert(1)</script>\n\n[docs](https://e.com/d) [same](https://e.com/s) "
        "<https://e.org>\n\n![x](https://e.com/x.png) ![i](data:image/png;base64,iVBORw0KGgo=)\n\n"
        "[bad](javascript:alert(1))\n\n```python\nx = 1\n```\n"
    )
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="https://e.com/d" rel="nofollow noreferrer">docs</a> <span class="url">(https://e.com/d)</span>' in page
    assert '<a href="https://e.org" rel="nofollow noreferrer">https://e.org</a>' in page  # no URL twice
    assert "<img" not in page.replace('<img src="data:image/png;base64,iVBORw0KGgo=" alt="i">', "")
    assert 'class="image-link" href="https://e.com/x.png"' in page
    assert 'href="javascript:' not in page  # refused: it stays text
    assert '<pre class="hl"><code><span class="n">x</span>' in page
