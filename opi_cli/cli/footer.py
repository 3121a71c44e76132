"""The two footer lines under the input: where you are, and what the conversation costs.

Line 1: cwd (``~`` for home), git branch, session name. Line 2: ``↑in ↓out Rcache Wcache
$cost`` over every reply of the session, context use ``pct%/window`` (yellow above 70 %,
red above 90 %; ``~`` in front when no reply has measured it yet, e.g. right after a
compaction, so the figure is opi's estimate), and on the right the model id and
thinking level. Returned as prompt_toolkit formatted-text fragments.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path

from prompt_toolkit.formatted_text import StyleAndTextTuples

from opi_cli._util.records import record
from opi_cli.agent.cost_ceiling import CostCeiling
from opi_cli.ai.model import Model
from opi_cli.ai.types import AssistantMessage, Usage
from opi_cli.cli.render import fmt_tokens

Fragments = StyleAndTextTuples

__all__ = ["FooterState", "footer_fragments", "git_branch", "tilde"]



def tilde(path: Path, home: Path | None) -> str:
    """``path`` with the home folder written as ``~``."""
    s = str(path)
    if home is not None:
        h = str(home).rstrip("/")
        if h and (s == h or s.startswith(h + "/")):
            return "~" + s[len(h) :]
    return s


def git_branch(cwd: Path) -> str | None:
    """The checked-out branch (or short commit) of the repository holding ``cwd``; no subprocess."""
    for d in (cwd, *cwd.parents):
        git = d / ".git"
        try:
            if git.is_file():
                ref = git.read_text(encoding="utf-8", errors="replace").strip()
                if not ref.startswith("gitdir:"):
                    return None
                gdir = Path(ref[7:].strip())
                git = gdir if gdir.is_absolute() else d / gdir
            if git.is_dir():
                head = (git / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
                if head.startswith("ref: refs/heads/"):
                    return head[len("ref: refs/heads/") :]
                return head[:7] or None
        except OSError:
            return None
    return None


@record(frozen=False)
class FooterState:
    """What the footer shows that is not in the agent itself.

    The token and cost figures belong to the session on screen: :meth:`load` replaces them
    with the figures of a session's messages (at start, ``/new``, ``/resume``), and
    :meth:`add_usage` adds each new reply, per model for ``/cost``.
    """

    cwd: Path
    home: Path | None
    session_name: str | None = None
    totals: Usage = field(default_factory=Usage)
    auto_compaction: bool = True
    ceiling: CostCeiling | None = None
    by_model: dict[str, Usage] = field(default_factory=dict)
    _branch: tuple[float, str | None] = (0.0, None)

    def add_usage(self, usage: Usage, model: str | None = None) -> None:
        self.totals = self.totals.plus(usage)
        if model is not None:
            self.by_model[model] = self.by_model.get(model, Usage()).plus(usage)

    def load(self, messages: Sequence[object]) -> None:
        """The figures of a session: the replies among ``messages``."""
        self.totals = Usage()
        self.by_model = {}
        for m in messages:
            if isinstance(m, AssistantMessage):
                self.add_usage(m.usage, f"{m.provider}/{m.model}")

    def branch(self) -> str | None:
        at, value = self._branch
        now = time.monotonic()
        if now - at > 3.0:  # re-read now and then: the user may switch branches meanwhile
            value = git_branch(self.cwd)
            self._branch = (now, value)
        return value


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def footer_fragments(
    state: FooterState, used: int, model: Model, thinking: str, width: int, *, estimated: bool = False
) -> Fragments:
    """The footer as formatted-text fragments, two lines, ``width`` columns; ``used`` is the
    context in use (the session's own figure: last reported usage plus estimates after it),
    ``estimated`` when no reported usage is part of it."""
    line1 = tilde(state.cwd, state.home)
    branch = state.branch()
    if branch:
        line1 += f" ({branch})"
    if state.session_name:
        line1 += f" • {state.session_name}"
    t = state.totals
    parts = []
    if t.input:
        parts.append(f"↑{fmt_tokens(t.input)}")
    if t.output:
        parts.append(f"↓{fmt_tokens(t.output)}")
    if t.cache_read:
        parts.append(f"R{fmt_tokens(t.cache_read)}")
    if t.cache_write:
        parts.append(f"W{fmt_tokens(t.cache_write)}")
    if state.ceiling is not None:  # this run's spend against --max-cost
        parts.append(f"${state.ceiling.spent_usd:.3f}/${state.ceiling.limit_usd:.2f}")
    elif t.cost.total or t.input:
        parts.append(f"${t.cost.total:.3f}")
    window = model.context_window or 1
    pct = 100.0 * used / window
    ctx_style = "class:footer.ctx" + (".red" if pct > 90 else ".yellow" if pct > 70 else "")
    ctx = ("~" if estimated else "") + f"{pct:.1f}%/{fmt_tokens(window)}" + (" (auto)" if state.auto_compaction else "")
    right = model.id + ((" • " + (thinking if thinking != "off" else "thinking off")) if model.reasoning else "")
    left = " ".join(parts)
    left_len = len(left) + (1 if left else 0) + len(ctx)
    if left_len + 2 + len(right) > width:
        right = _fit(right, max(0, width - left_len - 2))
    pad = max(1, width - left_len - len(right))
    frags: Fragments = [("class:footer", _fit(line1, width)), ("", "\n")]
    if left:
        frags.append(("class:footer", left + " "))
    frags += [(ctx_style, ctx), ("", " " * pad), ("class:footer.model", right)]
    return frags
