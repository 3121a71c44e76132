"""What the REPL draws above its input line: the live area, a picker or a question, the queues, a hint, the rule.

The live area (streaming text, running tools, the spinner) gets whatever height is left
once the rest is placed, so the whole application always fits on the screen and nothing
live ever scrolls into the terminal's history. The rule's colour tells the thinking level
(green when the input is a ``!cmd``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prompt_toolkit.formatted_text import ANSI, StyleAndTextTuples, to_formatted_text
from prompt_toolkit.styles import Style
from rich.console import RenderableType

from opi_cli._util.records import record
from opi_cli.cli.live import render_ansi
from opi_cli.cli.picker import Picker

__all__ = ["STYLE", "AreaParts", "Glyphs", "fit", "prompt_area", "queue_fragments"]

STYLE = Style.from_dict(
    {
        "bottom-toolbar": "noreverse bg:default",
        "footer": "#8a8a8a",
        "footer.ctx": "#8a8a8a",
        "footer.ctx.yellow": "#d7af00",
        "footer.ctx.red": "#ff5f5f bold",
        "footer.model": "#8a8a8a",
        "queue": "#8a8a8a",
        "hint": "#d7af00",
        "rule": "#5f5f5f",
        "prompt": "bold",
        "picker.title": "bold",
        "picker.hint": "#8a8a8a",
        "picker.item": "",
        "picker.selected": "reverse bold",
        "ask.title": "bold #d7af00",
        "ask.reason": "#8a8a8a",
        "ask.code": "",
        "ask.add": "#5faf5f",
        "ask.del": "#ff5f5f",
        "ask.choice": "",
        "ask.selected": "bold #00afaf",
    }
)
RULE_COLORS = {"off": "#5f5f5f", "minimal": "#5f87af", "low": "#5f87d7", "medium": "#00afaf",
               "high": "#af5fd7", "xhigh": "#ff5f87"}
BASH_COLOR = "#5faf5f"
PICKER_ROWS = 10


@record
class Glyphs:
    """The characters of the rule, the prompt, the queue hint and the picker's pointer."""

    rule: str
    arrow: str
    hook: str
    pointer: str

    @classmethod
    def for_terminal(cls, utf8: bool) -> Glyphs:
        return cls("─", "› ", "↳", "❯ ") if utf8 else cls("-", "> ", "->", "> ")


@record
class AreaParts:
    """One frame's inputs (see :func:`prompt_area`)."""

    columns: int
    rows: int
    live: Callable[[int, int], str]  # (width, max lines) -> the live area as ANSI text
    pending: Sequence[RenderableType]  # committed, not printed yet: shown meanwhile
    queue: StyleAndTextTuples
    hint: str | None
    picker: Picker | None
    ask: StyleAndTextTuples  # a question waiting for an answer (the permission dialog)
    input_lines: int
    completing: bool
    thinking_level: str
    bash: bool
    glyphs: Glyphs
    color: bool


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def queue_fragments(steering: Sequence[str], follow: Sequence[str], width: int, glyphs: Glyphs) -> StyleAndTextTuples:
    """``Steering: …`` / ``Follow-up: …`` lines and the hint to take them back."""
    out: StyleAndTextTuples = []
    for label, texts in (("Steering", steering), ("Follow-up", follow)):
        for t in texts:
            line = f"{label}: {t.splitlines()[0] if t else ''}"
            out.append(("class:queue", fit(line, width) + "\n"))
    if out:
        out.append(("class:queue", f"{glyphs.hook} alt+up to edit all queued messages\n"))
    return out


def prompt_area(p: AreaParts) -> StyleAndTextTuples:
    """Everything above the input line, fitted to ``p.rows``."""
    width = max(20, p.columns)
    hint: StyleAndTextTuples = [("class:hint", p.hint + "\n")] if p.hint else []
    # the whole app must fit on the screen, or its top would scroll into the history
    reserved = 4 + p.input_lines + len(p.queue) + len(hint) + len(p.ask)
    picker: StyleAndTextTuples = []
    if p.picker is not None:
        rows = max(1, min(PICKER_ROWS, p.rows - reserved - 4))
        picker = p.picker.fragments(width, rows, pointer=p.glyphs.pointer)
        reserved += p.picker.height(rows, width)
    if p.completing:
        reserved += 6
    budget = max(1, p.rows - reserved)
    live = p.live(width - 1, budget)
    if p.pending:
        lines = render_ansi(list(p.pending), width - 1, color=p.color).rstrip("\n").split("\n")
        if live:
            lines += live.split("\n")
        live = "\n".join(lines[-budget:])
    frags: StyleAndTextTuples = []
    if live:
        frags.extend(to_formatted_text(ANSI(live)))
        frags.append(("", "\n"))
    frags.extend(picker)
    frags.extend(p.ask)
    frags.extend(p.queue)
    frags.extend(hint)
    color = BASH_COLOR if p.bash else RULE_COLORS.get(p.thinking_level, RULE_COLORS["off"])
    frags.append((f"fg:{color}", p.glyphs.rule * width + "\n"))
    frags.append(("class:prompt", p.glyphs.arrow))
    return frags
