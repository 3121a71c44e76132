"""The REPL's permission question: the tool call, its arguments (the diff for edits), four answers.

It is the :class:`~opi_cli.tools.permission_gate.Approver` of an interactive run. While a
question is open it is drawn above the input and, with the input empty, ``1``–``4``
(or ``y``/``n``, or Up/Down and Enter) answer it:

1. allow once; 2. allow for this session (the call's rules are remembered until exit);
3. always allow (the rules are also saved to the project's ``.opi/settings.json``);
4. deny: the input then takes an optional reason for the model, sent with Enter.

The rest of the REPL keeps working: typing a message and pressing Enter steers (the
question is answered "no" with a note that the user sent a message, and the message is
queued as usual); Escape or Ctrl+C refuse the call and stop the agent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from rich.console import RenderableType
from rich.text import Text

from opi_cli.cli.trust import save_allow_rules
from opi_cli.errors import OpiError
from opi_cli.tools.permission_gate import ApprovalAnswer, ApprovalRequest

__all__ = ["PermissionDialog"]

_PREVIEW_ROWS = 14
STEERED = "the user sent a message instead of answering (it follows)"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class PermissionDialog:
    """Asks about one call at a time (the loop prepares calls one by one).

    Args:
        cwd: the project folder whose settings file "always allow" writes.
        print: shows a line in the REPL's output.
        redraw: asks the REPL to redraw (the question appears, changes, or goes).
        input_text: the REPL's current input text (keys answer only when it is empty).
        home: OPI_HOME, where "always allow" answers are remembered for the folder.
    """

    def __init__(
        self,
        cwd: Path,
        print: Callable[[RenderableType], None],
        redraw: Callable[[], None],
        input_text: Callable[[], str],
        home: Path | None = None,
    ) -> None:
        self.cwd = cwd
        self.home = home
        self._print = print
        self._redraw = redraw
        self._input_text = input_text
        self.request: ApprovalRequest | None = None
        self._answer: asyncio.Future[ApprovalAnswer] | None = None
        self._selected = 0
        self.asking_reason = False

    # -- Approver -------------------------------------------------------------------------
    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        self.request, self._selected, self.asking_reason = request, 0, False
        self._answer = asyncio.get_running_loop().create_future()
        self._redraw()
        try:
            return await self._answer
        finally:
            self.request, self._answer = None, None
            self._redraw()

    @property
    def active(self) -> bool:
        return self._answer is not None and not self._answer.done()

    def _options(self) -> list[tuple[str, str]]:
        req = self.request
        assert req is not None
        opts = [("once", "Yes, allow once")]
        if req.suggestions:
            rules = ", ".join(req.suggestions)
            opts.append(("session", f"Yes, and allow for this session: {rules}"))
            opts.append(("always", f"Yes, and always allow (saves {rules} to .opi/settings.json)"))
        opts.append(("deny", "No, and tell the model why (type it, then Enter)"))
        return opts

    def _resolve(self, answer: ApprovalAnswer) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(answer)

    def choose(self, index: int) -> None:
        """Pick option ``index`` (0-based) of the open question."""
        if not self.active:
            return
        options = self._options()
        if not 0 <= index < len(options):
            return
        kind = options[index][0]
        if kind == "deny":
            self.asking_reason = True
            self._redraw()
            return
        if kind == "always":
            assert self.request is not None
            try:
                path = save_allow_rules(self.cwd, self.request.suggestions, self.home)
                self._print(Text(f"Saved {', '.join(self.request.suggestions)} to {path}", style="green"))
            except (OSError, OpiError) as exc:
                self._print(Text(f"Not saved ({exc}); allowed for this session only.", style="yellow"))
            kind = "session"
        self._resolve(ApprovalAnswer("session" if kind == "session" else "once"))

    def submit(self, text: str) -> bool:
        """Enter while the question is open: True when it was the answer (the input is
        consumed); False when ``text`` is a message to send as usual (a steer)."""
        if not self.active:
            return False
        if self.asking_reason:
            self._resolve(ApprovalAnswer("deny", text.strip() or None))
            return True
        if not text.strip():
            self.choose(self._selected)
            return True
        self._resolve(ApprovalAnswer("deny", STEERED))
        return False

    def cancel(self, reason: str = "the user stopped the agent") -> None:
        """Escape / Ctrl+C: refuse the call."""
        self._resolve(ApprovalAnswer("deny", reason))

    def move(self, step: int) -> None:
        if self.active and not self.asking_reason:
            self._selected = (self._selected + step) % len(self._options())
            self._redraw()

    # -- keys -----------------------------------------------------------------------------
    def key_bindings(self) -> KeyBindings:
        """Digits, y/n and Up/Down answer while a question is open and the input is empty."""
        kb = KeyBindings()
        ready = Condition(lambda: self.active and not self.asking_reason and not self._input_text())

        def bind(key: str, action: Callable[[], None]) -> None:
            @kb.add(key, filter=ready)
            def _(event: KeyPressEvent) -> None:
                action()

        for n in range(1, 5):
            bind(str(n), lambda n=n: self._pick_number(n))  # type: ignore[misc]
        bind("y", lambda: self.choose(0))
        bind("n", lambda: self.choose(len(self._options()) - 1))
        bind("up", lambda: self.move(-1))
        bind("down", lambda: self.move(1))
        return kb

    def _pick_number(self, n: int) -> None:
        last = len(self._options()) - 1  # 4 is always "deny"; 2 and 3 exist only with rules to offer
        if n == 4:
            self.choose(last)
        elif n - 1 < last:
            self.choose(n - 1)

    # -- drawing --------------------------------------------------------------------------
    def fragments(self, width: int) -> StyleAndTextTuples:
        """The question, drawn above the input (empty when none is open)."""
        req = self.request
        if req is None or not self.active:
            return []
        w = max(20, width - 1)
        out: StyleAndTextTuples = [("class:ask.title", _fit(f"Allow {req.tool_name}? ", w) + "\n")]
        out.append(("class:ask.reason", _fit(f"  ({req.reason})", w) + "\n"))
        for style, line in self._preview_lines(req):
            out.append((style, "  " + _fit(line, w - 2) + "\n"))
        if self.asking_reason:
            out.append(("class:ask.choice", "Denied. Type a reason for the model and press Enter (empty: none).\n"))
            return out
        for i, (_, label) in enumerate(self._options()):
            number = 4 if i == len(self._options()) - 1 else i + 1
            mark = "›" if i == self._selected else " "
            style = "class:ask.selected" if i == self._selected else "class:ask.choice"
            out.append((style, _fit(f"{mark} {number}. {label}", w) + "\n"))
        out.append(("class:ask.reason", _fit("  1-4 or ↑↓ Enter · type a message to steer instead · esc stops", w)
                    + "\n"))
        return out

    @staticmethod
    def _preview_lines(req: ApprovalRequest) -> list[tuple[str, str]]:
        if req.tool_name == "bash" and isinstance(req.args.get("command"), str):
            lines = [("class:ask.code", "$ " + line) for line in str(req.args["command"]).splitlines() or [""]]
        elif req.preview is not None:
            path = req.args.get("path")
            lines = [("class:ask.code", f"{req.tool_name} {path}")]
            for line in req.preview.split("\n"):
                style = "class:ask.add" if line.startswith("+") else "class:ask.del" if line.startswith("-") else ""
                lines.append((style or "class:ask.code", line))
        else:
            lines = [("class:ask.code", line) for line in json.dumps(req.args, ensure_ascii=False).splitlines()]
        if len(lines) > _PREVIEW_ROWS:
            more = len(lines) - _PREVIEW_ROWS + 1
            lines = [*lines[: _PREVIEW_ROWS - 1], ("class:ask.reason", f"... ({more} more lines)")]
        return lines
