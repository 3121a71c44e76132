"""pi's line-numbered diff of an edit: 4 lines of context, ``...`` where context is skipped."""

from __future__ import annotations

from opi_cli._util.records import record

__all__ = ["EditDiff", "line_diff"]


@record
class EditDiff:
    """The rendered diff and the first changed line (1-based, in the new text)."""

    diff: str
    first_changed_line: int | None


def _tokens(text: str) -> list[str]:
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _parts(old: list[str], new: list[str]) -> list[tuple[str, list[str]]]:
    parts: list[tuple[str, list[str]]] = []
    from difflib import SequenceMatcher  # loaded by the first edit, not at start-up

    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(("=", old[i1:i2]))
            continue
        if i2 > i1:
            parts.append(("-", old[i1:i2]))
        if j2 > j1:
            parts.append(("+", new[j1:j2]))
    return parts


def line_diff(old_text: str, new_text: str, context: int = 4) -> EditDiff:
    """Render the change from ``old_text`` to ``new_text`` the way pi's edit tool does."""
    parts = _parts(_tokens(old_text), _tokens(new_text))
    width = len(str(max(len(old_text.split("\n")), len(new_text.split("\n")))))
    blank = " " * width
    out: list[str] = []
    old_no = new_no = 1
    first: int | None = None
    last_was_change = False
    for i, (kind, raw_tokens) in enumerate(parts):
        raw = [t[:-1] if t.endswith("\n") else t for t in raw_tokens]
        if kind != "=":
            if first is None:
                first = new_no
            for line in raw:
                if kind == "+":
                    out.append(f"+{new_no:>{width}} {line}")
                    new_no += 1
                else:
                    out.append(f"-{old_no:>{width}} {line}")
                    old_no += 1
            last_was_change = True
            continue
        next_is_change = i + 1 < len(parts) and parts[i + 1][0] != "="
        if last_was_change or next_is_change:
            shown = raw
            skip_start = skip_end = 0
            if not last_was_change:
                skip_start = max(0, len(raw) - context)
                shown = raw[skip_start:]
            if not next_is_change and len(shown) > context:
                skip_end = len(shown) - context
                shown = shown[:context]
            if skip_start:
                out.append(f" {blank} ...")
                old_no += skip_start
                new_no += skip_start
            for line in shown:
                out.append(f" {old_no:>{width}} {line}")
                old_no += 1
                new_no += 1
            if skip_end:
                out.append(f" {blank} ...")
                old_no += skip_end
                new_no += skip_end
        else:
            old_no += len(raw)
            new_no += len(raw)
        last_was_change = False
    return EditDiff("\n".join(out), first)
