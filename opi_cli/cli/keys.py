"""Key bindings of the REPL input and the input completer (``/commands`` and ``@paths``).

The bindings only translate keys into calls on :class:`KeyActions` (implemented by the
REPL), so what each key does lives in one place and reads like the hotkey list.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.input.ansi_escape_sequences import ANSI_SEQUENCES
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

__all__ = ["KeyActions", "ReplCompleter", "build_key_bindings", "enable_shift_enter"]

_MAX_PATHS = 60


class KeyActions(Protocol):
    def submit(self, *, follow_up: bool) -> None: ...

    def interrupt(self, *, ctrl_c: bool) -> None: ...

    def quit_if_empty(self) -> None: ...

    def restore_queue(self) -> None: ...

    def toggle_thinking(self) -> None: ...

    def expand_tool(self) -> None: ...

    def run_command(self, name: str, args: str) -> None: ...

    def cycle_model(self, step: int) -> None: ...

    def picking(self) -> bool: ...

    def picker_move(self, step: int) -> None: ...


SHIFT_CTRL_P = Keys.F24
"""Shift+Ctrl+P has no key of its own in prompt_toolkit: its sequences arrive as F24, a key
no keyboard in use sends."""


def enable_shift_enter() -> None:
    """Teach the input parser the Shift+Enter sequences of terminals that report it
    (kitty/CSI-u and xterm's modifyOtherKeys); they arrive as Ctrl+J, a new line. Likewise
    Shift+Ctrl+P (which legacy terminals cannot tell from Ctrl+P)."""
    for seq in ("\x1b[13;2u", "\x1b[27;2;13~", "\x1b[13;5u", "\x1b[27;5;13~"):
        ANSI_SEQUENCES.setdefault(seq, Keys.ControlJ)
    for seq in ("\x1b[112;6u", "\x1b[80;6u", "\x1b[27;6;80~", "\x1b[27;6;112~"):
        ANSI_SEQUENCES.setdefault(seq, SHIFT_CTRL_P)


def build_key_bindings(actions: KeyActions) -> KeyBindings:
    """The REPL's keys (see ``/hotkeys``); they win over prompt_toolkit's defaults."""
    kb = KeyBindings()

    def on(*keys: str) -> Callable[[Callable[[KeyPressEvent], None]], Callable[[KeyPressEvent], None]]:
        return kb.add(*keys)

    @on("enter")
    def _enter(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        state = buf.complete_state
        if state is not None and state.current_completion is not None:
            buf.apply_completion(state.current_completion)
            return
        actions.submit(follow_up=False)

    @on("escape", "enter")
    @on("c-s")
    def _follow_up(event: KeyPressEvent) -> None:
        actions.submit(follow_up=True)

    @on("c-j")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @on("escape")
    def _escape(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.complete_state is not None:
            buf.cancel_completion()
            return
        actions.interrupt(ctrl_c=False)

    @on("c-c")
    def _ctrl_c(event: KeyPressEvent) -> None:
        actions.interrupt(ctrl_c=True)

    @on("c-d")
    def _ctrl_d(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.text:
            buf.delete()
        else:
            actions.quit_if_empty()

    @on("escape", "up")
    def _alt_up(event: KeyPressEvent) -> None:
        actions.restore_queue()

    @on("c-t")
    def _ctrl_t(event: KeyPressEvent) -> None:
        actions.toggle_thinking()

    @on("c-o")
    def _ctrl_o(event: KeyPressEvent) -> None:
        actions.expand_tool()

    @on("s-tab")
    def _shift_tab(event: KeyPressEvent) -> None:
        actions.run_command("thinking", "next")

    @on("c-l")
    def _ctrl_l(event: KeyPressEvent) -> None:
        actions.run_command("model", "")

    @on("c-g")
    def _ctrl_g(event: KeyPressEvent) -> None:
        event.current_buffer.open_in_editor(validate_and_handle=False)

    @on("c-p")
    def _ctrl_p(event: KeyPressEvent) -> None:
        actions.cycle_model(+1)

    @on(SHIFT_CTRL_P)
    def _shift_ctrl_p(event: KeyPressEvent) -> None:
        actions.cycle_model(-1)

    picking = Condition(actions.picking)
    for keys, step in ((("up",), -1), (("down",), 1), (("c-p",), -1), (("c-n",), 1),
                       (("pageup",), -8), (("pagedown",), 8)):
        kb.add(*keys, filter=picking)(_mover(actions, step))

    return kb


def _mover(actions: KeyActions, step: int) -> Callable[[KeyPressEvent], None]:
    def move(event: KeyPressEvent) -> None:
        actions.picker_move(step)

    return move


class ReplCompleter(Completer):
    """``/command`` names at the start of the input; ``@path`` anywhere (relative to cwd).

    Args:
        commands: returns (name, description) pairs.
        cwd: where relative paths start.
    """

    def __init__(self, commands: Callable[[], Iterable[tuple[str, str]]], cwd: Path) -> None:
        self._commands = commands
        self._cwd = cwd

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if text.startswith("/") and " " not in text and "\n" not in text:
            word = text[1:].lower()
            for name, desc in self._commands():
                if name.startswith(word):
                    yield Completion("/" + name, start_position=-len(text), display_meta=desc)
            return
        word = document.get_word_before_cursor(WORD=True)
        if word.startswith("@"):
            yield from self._paths(word)

    def _paths(self, word: str) -> Iterable[Completion]:
        typed = word[1:]
        head, _, prefix = typed.rpartition("/")
        base = Path(os.path.expanduser(head)) if head else Path(".")
        folder = base if base.is_absolute() else self._cwd / base
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        shown = 0
        for entry in entries:
            name = entry.name
            if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
                continue
            is_dir = entry.is_dir(follow_symlinks=True)
            path = (head + "/" if head else "") + name + ("/" if is_dir else "")
            yield Completion("@" + path, start_position=-len(word), display=name + ("/" if is_dir else ""))
            shown += 1
            if shown >= _MAX_PATHS:
                return
