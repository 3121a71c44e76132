"""The interactive loop: a prompt_toolkit input that stays live while the agent works.

One prompt_toolkit application runs for the whole session and never exits between turns:
Enter either sends a prompt (idle) or queues a steering message (working). The agent runs
in a task owned by :class:`Repl`. Finished output is printed once above the input (inside
``in_terminal``, wrapped in synchronized-output markers); the streaming tail, tool boxes,
queues and the spinner are part of the input's own layout and redrawn in place, so the
terminal's scrollback only ever receives final text.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.filters import Condition, to_filter
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent, merge_key_bindings
from prompt_toolkit.layout import FormattedTextControl, HSplit, Layout, Window
from prompt_toolkit.output import ColorDepth
from rich.console import Console, RenderableType
from rich.text import Text

from opi_cli import __version__
from opi_cli._util.abort import AbortController
from opi_cli.agent.events import AgentEvent, MessageEnd, SessionInfoChanged
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.ai.types import AssistantMessage, ImageContent
from opi_cli.cli import render
from opi_cli.cli.commands import (
    Command,
    build_commands,
    close_matches,
    parse_command,
    run_shell,
)
from opi_cli.cli.exit_signals import install_exit_signals
from opi_cli.cli.footer import FooterState, footer_fragments, tilde
from opi_cli.cli.info_commands import FOLLOW_UP_KEY
from opi_cli.cli.keys import ReplCompleter, build_key_bindings, enable_shift_enter
from opi_cli.cli.live import StreamView
from opi_cli.cli.model_cycle import cycle_model
from opi_cli.cli.options import RunOptions
from opi_cli.cli.permission_dialog import PermissionDialog
from opi_cli.cli.picker import Picker
from opi_cli.cli.printer import ScrollbackPrinter
from opi_cli.cli.prompt_area import STYLE, AreaParts, Glyphs, prompt_area, queue_fragments
from opi_cli.cli.repl_customize import ask_project_trust, expand_initial, show_notices, user_commands
from opi_cli.cli.runtime import Runtime, build_runtime, prepare_prompts
from opi_cli.cli.settings import Settings
from opi_cli.cli.trust import Trust
from opi_cli.session.agent_session import AgentSession

__all__ = ["Repl", "run_repl"]

_DOUBLE_CTRL_C = 1.0
_HISTORY_SHOWN = 40
_RESIZE_SETTLE = 0.12


class Repl:
    """The REPL of one runtime (see the module docstring)."""

    def __init__(self, rt: Runtime, settings: Settings, console: Console, *, color: bool = True) -> None:
        self.rt = rt
        self._settings = settings
        self.console = console
        self.color = color
        self.view = StreamView(self._commit)
        utf8 = console.encoding.lower().replace("-", "") == "utf8"
        self._glyphs = Glyphs.for_terminal(utf8)
        if not utf8:
            self.view.spinner = "|/-\\"
        self.printer: ScrollbackPrinter
        self.footer = FooterState(settings.cwd, Path(settings.env["HOME"]) if settings.env.get("HOME") else None,
                                  auto_compaction=bool(settings.section("compaction").get("enabled", True)))
        self.footer.session_name = rt.session.name
        self.footer.load(rt.session.agent.messages)
        self._commands = build_commands(rt.session, rt.mcp, user_commands(rt.custom))
        self._agent_task: asyncio.Task[None] | None = None
        self._side_task: asyncio.Task[None] | None = None  # a slash command or a !cmd
        self._shell: AbortController | None = None
        self._choice: asyncio.Future[str | None] | None = None
        self.picker: Picker | None = None
        self._secret: str | None = None  # the prompt of a hidden input (/login)
        self._hint: tuple[str, float] | None = None
        self._last_ctrl_c = 0.0
        self._quitting = False
        self.dialog = PermissionDialog(settings.cwd, self.print, self._invalidate, lambda: self.prompt.default_buffer.text,
                                       settings.home)
        if rt.trust is not None:
            if rt.trust.gate is not None:
                rt.trust.gate.approver = self.dialog
            self.footer.ceiling = rt.trust.ceiling
        self._exit_code = 0
        settings.home.mkdir(parents=True, exist_ok=True)
        self.prompt = PromptSession[str](
            message=self._message,
            history=FileHistory(str(settings.home / "history")),
            completer=ReplCompleter(self._command_names, settings.cwd),
            complete_while_typing=Condition(self._completing),
            key_bindings=merge_key_bindings([build_key_bindings(self), self.dialog.key_bindings(), self._rewind_keys()]),
            style=STYLE,
            multiline=False,
            prompt_continuation="  ",
            erase_when_done=True,
            enable_open_in_editor=False,
            reserve_space_for_menu=6,
            color_depth=None if color else ColorDepth.DEPTH_1_BIT,
        )
        app = self.prompt.app
        # the footer sits right under the input (prompt_toolkit's bottom toolbar would wait
        # for a cursor-position report and then pin itself to the last screen row)
        footer = Window(FormattedTextControl(self._toolbar), height=2, dont_extend_height=True)
        app.layout.current_window.dont_extend_height = to_filter(True)  # the input window
        filler = Window()  # what is left of the screen stays below the footer
        app.layout = Layout(HSplit([app.layout.container, footer, filler]), focused_element=self.prompt.default_buffer)
        self.prompt.default_buffer.on_text_changed += self._on_text_changed
        app.min_redraw_interval = 0.04
        app.ttimeoutlen = 0.15  # a lone Escape (abort) must not wait half a second
        self.printer = ScrollbackPrinter(console, app)
        # prompt_toolkit repairs a resize by erasing the frame it remembers, which a terminal
        # that re-wraps its rows no longer has: opi redraws the whole conversation instead
        self._resize_task: asyncio.Task[None] | None = None
        setattr(app, "_on_resize", self._on_resize)  # noqa: B010 (replaces a method of the instance)

    def _commit(self, renderable: RenderableType) -> None:
        self.printer.commit(renderable)

    # -- Host (for commands) -----------------------------------------------------------------
    @property
    def session(self) -> AgentSession:
        return self.rt.session

    @property
    def registry(self) -> ModelRegistry:
        return self.rt.registry

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def commands(self) -> dict[str, Command]:
        return self._commands

    @property
    def trust(self) -> Trust | None:
        return self.rt.trust

    def print(self, renderable: RenderableType) -> None:
        self.view.note(renderable)

    def quit(self) -> None:
        self._quitting = True
        if self.prompt.app.is_running:
            self.prompt.app.exit()

    def set_input(self, text: str) -> None:
        self.prompt.default_buffer.text = text
        self.prompt.default_buffer.cursor_position = len(text)

    async def _ask(self) -> str | None:
        """Wait for the next Enter (the input's text) or Escape (None)."""
        self._choice = asyncio.get_running_loop().create_future()
        self._invalidate()
        try:
            return await self._choice
        finally:
            self._choice = None
            self._invalidate()

    async def choose(
        self, title: str, options: list[str], *, current: int | None = None, query: str = ""
    ) -> int | None:
        """An arrow-key picker over ``options`` drawn above the input; the input filters it."""
        self.picker = Picker(title, options, current)
        self.set_input(query)
        self.picker.filter(query)
        try:
            answer = await self._ask()
            picked = self.picker.selected() if answer is not None else None
        finally:
            self.picker = None
        if answer is None:
            self.print(Text("Cancelled.", style="dim"))
        return picked

    async def ask_secret(self, prompt: str) -> str | None:
        """A line typed with echo off and kept out of the history (an API key)."""
        self._secret = prompt
        self.prompt.is_password = True
        try:
            return await self._ask()
        finally:
            self._secret = None
            self.prompt.is_password = False
            self.prompt.default_buffer.reset()

    def session_switched(self, *, show_history: bool) -> None:
        """Footer figures follow the session now shown; ``show_history`` prints where it stands."""
        messages = self.session.agent.messages
        self.footer.load(messages)
        self.footer.session_name = self.session.name
        if show_history and messages:
            for item in render.history(messages, limit=_HISTORY_SHOWN):
                self.print(item)
        self._invalidate()

    def cycle_model(self, step: int) -> None:
        """Ctrl+P / Shift+Ctrl+P."""
        if self.working:
            self.print(Text("The model changes once the agent is idle (or press Escape to stop it).", style="yellow"))
            return
        cycle_model(self, step)

    def picking(self) -> bool:
        return self.picker is not None

    def picker_move(self, step: int) -> None:
        if self.picker is not None:
            self.picker.move(step)
            self._invalidate()

    # -- state -------------------------------------------------------------------------------
    @property
    def working(self) -> bool:
        busy = self._agent_task is not None and not self._agent_task.done()
        return busy or self.session.agent.is_running

    def _command_names(self) -> list[tuple[str, str]]:
        return [(n, c.description) for n, c in self._commands.items()]

    def _on_text_changed(self, buffer: object) -> None:
        if self.picker is not None:
            self.picker.filter(self.prompt.default_buffer.text)

    def _completing(self) -> bool:
        if self.picker is not None or self._secret is not None:
            return False
        doc = self.prompt.default_buffer.document
        text = doc.text_before_cursor
        return (text.startswith("/") and " " not in text) or doc.get_word_before_cursor(WORD=True).startswith("@")

    def _invalidate(self) -> None:
        if self.prompt.app.is_running:
            self.prompt.app.invalidate()

    # -- the layout around the input ---------------------------------------------------------
    def _message(self) -> StyleAndTextTuples:
        """Everything above the input (:func:`~opi_cli.cli.prompt_area.prompt_area`)."""
        size = self.prompt.app.output.get_size()
        hint = self._secret
        if hint is None and self._hint is not None:
            text, until = self._hint
            if time.monotonic() < until:
                hint = text
            else:
                self._hint = None
        steering, follow = self.session.agent.queued_texts()
        buffer = self.prompt.default_buffer
        return prompt_area(AreaParts(
            columns=size.columns, rows=size.rows,
            live=lambda width, lines: self.view.render_live(width, lines, color=self.color),
            pending=self.printer.pending,
            queue=queue_fragments(steering, follow, max(20, size.columns), self._glyphs),
            hint=hint, picker=self.picker, ask=self.dialog.fragments(max(20, size.columns)),
            input_lines=buffer.document.line_count,
            completing=self._completing(), thinking_level=self.session.agent.thinking_level,
            bash=buffer.text.startswith("!"), glyphs=self._glyphs, color=self.color,
        ))

    def _toolbar(self) -> StyleAndTextTuples:
        width = self.prompt.app.output.get_size().columns
        agent = self.session.agent
        usage = self.session.context_usage()
        estimated = usage.from_usage == 0 and usage.tokens > 0  # e.g. after a compaction, before a reply
        return footer_fragments(self.footer, usage.tokens, agent.model, agent.thinking_level, width, estimated=estimated)

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, ev: AgentEvent) -> None:
        self.view.handle(ev)
        if isinstance(ev, MessageEnd) and isinstance(ev.message, AssistantMessage):
            self.footer.add_usage(ev.message.usage, f"{ev.message.provider}/{ev.message.model}")
        elif isinstance(ev, SessionInfoChanged):
            self.footer.session_name = ev.name
        self._invalidate()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            if self.view.working or self._shell is not None or self._hint is not None:
                self._invalidate()

    # -- key actions (keys.KeyActions) -------------------------------------------------------
    def submit(self, *, follow_up: bool) -> None:
        buf = self.prompt.default_buffer
        text = buf.text
        if self._choice is not None and not self._choice.done():
            if self.picker is not None and self.picker.selected() is None:
                return  # nothing matches the filter: keep typing or press Escape
            buf.reset()
            self._choice.set_result(text.strip())
            return
        if self.dialog.active and self.dialog.submit(text):
            buf.reset()
            return
        if not text.strip():
            return
        buf.append_to_history()  # (a hidden input never gets here: _choice takes it above)
        buf.reset()
        self._dispatch(text.strip(), follow_up=follow_up)

    def _dispatch(self, text: str, *, follow_up: bool) -> None:
        parsed = parse_command(text)
        cmd = self._commands.get(parsed[0]) if parsed is not None else None
        if parsed is not None and cmd is not None and cmd.expand is not None:
            text, parsed = cmd.expand(parsed[1]), None  # a prompt template or a skill: sent as a prompt
        if parsed is not None:
            self._run_command(*parsed)
            return
        busy = self.working or self._shell is not None
        if text.startswith("!"):
            if busy:
                self.print(Text("Wait until the agent is idle (or press Escape) to run a shell command.", style="yellow"))
                return
            self._side_task = asyncio.get_running_loop().create_task(self._guard(self._run_bang(text)))
            return
        if self.working:
            (self.session.follow_up if follow_up else self.session.steer)(text)
            return
        if self._shell is not None:
            self.print(Text("A shell command is running (Escape stops it).", style="yellow"))
            return
        self._start([(text, [])])

    def _run_command(self, name: str, args: str) -> None:
        cmd = self._commands.get(name)
        if cmd is None:
            near = close_matches(name, sorted(self._commands))
            hint = f" Did you mean {' or '.join('/' + n for n in near[:3])}?" if near else ""
            self.print(Text(f"Unknown command /{name}.{hint} (/help lists them; not sent to the model)", style="yellow"))
            return
        if self.working and not cmd.while_running:
            self.print(Text(f"/{name} waits until the agent is idle (or press Escape to stop it).", style="yellow"))
            return
        if self._side_task is not None and not self._side_task.done():
            self.print(Text("Another command is still running.", style="yellow"))
            return
        self._side_task = asyncio.get_running_loop().create_task(self._guard(cmd.handler(self, args)))

    async def _guard(self, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the CLI boundary: show it, keep the REPL alive
            self.print(render.error_line(f"Error: {exc}"))
        finally:
            self._invalidate()

    def _start(self, prompts: list[tuple[str, list[ImageContent]]]) -> None:
        self._agent_task = asyncio.get_running_loop().create_task(self._run_prompts(prompts))
        self._invalidate()

    async def _run_prompts(self, prompts: list[tuple[str, list[ImageContent]]]) -> None:
        for text, images in prompts:
            try:
                text, images = await self.rt.expand_references(text, images)
                await self.session.prompt(text, images)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the CLI boundary: show it, keep the REPL alive
                self.print(render.error_line(f"Error: {exc}"))
                break
            finally:
                self.view.working = False
                self._invalidate()
            last = self.session.agent.last_assistant
            if last is not None and last.stop_reason in ("error", "aborted"):
                break

    async def _run_bang(self, text: str) -> None:
        keep = not text.startswith("!!")
        command = text[2:] if not keep else text[1:]
        command = command.strip()
        if not command:
            return
        self._shell = AbortController()
        self.view.working = True

        def progress(tail: str) -> None:
            self.view.shell_output(command, tail)
            self._invalidate()

        try:
            msg = await run_shell(command, str(self.settings.cwd), self._shell.signal, progress, self.rt.shell_env)
        finally:
            self._shell = None
            self.view.working = False
            self.view.shell_output(command, None)
        self.view.end_shell(command, msg.output, failed=bool(msg.cancelled or msg.exit_code))
        if msg.cancelled:
            self.print(render.error_line("Command cancelled"))
        elif msg.exit_code:
            self.print(Text(f"exit code {msg.exit_code}", style="red"))
        if keep:
            self.session.add_message(msg)
        self._invalidate()

    def interrupt(self, *, ctrl_c: bool) -> None:
        if self._choice is not None and not self._choice.done():
            self.prompt.default_buffer.reset()  # the filter or a half-typed key goes too
            self._choice.set_result(None)
            return
        if self.dialog.active:
            self.dialog.cancel()
        now = time.monotonic()
        twice = ctrl_c and now - self._last_ctrl_c < _DOUBLE_CTRL_C
        if self.working or self._shell is not None:
            self._abort()
            if twice:  # a second Ctrl+C quits even while the abort is still settling
                self.quit()
            elif ctrl_c:
                self._arm_quit(now)
            return
        if self._side_task is not None and not self._side_task.done():
            self.session.abort("Cancelled by the user")  # e.g. a /compact in progress
            return
        buf = self.prompt.default_buffer
        if not ctrl_c:
            self._idle_escape(buf.text)
            return
        if buf.text:
            buf.reset()
            return
        if twice:
            self.quit()
            return
        self._arm_quit(now)

    def _arm_quit(self, now: float) -> None:
        self._last_ctrl_c = now
        self._hint = ("Press ctrl+c again to exit", now + _DOUBLE_CTRL_C)
        self._invalidate()

    def _idle_escape(self, text: str) -> None:
        if not text:
            self._hint = ("Press escape twice to rewind", time.monotonic() + 2.0)
            self._invalidate()

    def _rewind_keys(self) -> KeyBindings:
        """Escape twice on an empty input while idle opens /rewind (one binding: prompt_toolkit
        holds a lone Escape back for a second to see whether a second key follows)."""
        kb = KeyBindings()
        idle = Condition(lambda: not self.working and self._shell is None and not self.prompt.default_buffer.text
                         and (self._choice is None or self._choice.done()))

        @kb.add("escape", "escape", filter=idle)
        def _(event: KeyPressEvent) -> None:
            self._hint = None
            self._run_command("rewind", "")

        return kb

    def _abort(self) -> None:
        steering, follow = self.session.agent.clear_queues()
        queued = [t for t in (*steering, *follow) if t]
        if queued:
            self._restore(queued)
        self.session.abort("Aborted by the user")
        if self._shell is not None:
            self._shell.abort("Aborted by the user")
        self._invalidate()

    def _restore(self, texts: list[str]) -> None:
        current = self.prompt.default_buffer.text
        self.set_input("\n\n".join([*texts, current] if current else texts))

    def quit_if_empty(self) -> None:
        if self.working or self._shell is not None:
            self._abort()
        self.quit()

    def restore_queue(self) -> None:
        steering, follow = self.session.agent.clear_queues()
        queued = [t for t in (*steering, *follow) if t]
        if queued:
            self._restore(queued)

    def run_command(self, name: str, args: str) -> None:
        """A key that acts like a slash command (Shift+Tab, Ctrl+L)."""
        self._run_command(name, args)

    def toggle_thinking(self) -> None:
        self.view.hide_thinking = not self.view.hide_thinking
        self.print(render.status_line(f"Thinking blocks: {'hidden' if self.view.hide_thinking else 'shown'}"))

    def expand_tool(self) -> None:
        if not self.view.expand_last_tool():
            self.print(render.status_line("No tool output to expand yet."))

    # -- the whole session -------------------------------------------------------------------
    def banner(self) -> None:
        m = self.session.agent.model
        home = self.footer.home
        where = tilde(Path(self.session.session_file), home) if self.session.session_file else "not saved"
        lines: list[RenderableType] = [
            Text.assemble((f"opi {__version__}", "bold"), "  ", (m.ref, "cyan"), "  ", tilde(self.settings.cwd, home)),
            Text(f"session {self.session.session_id[:8]}  {where}", style="dim"),
        ]
        trust = self.rt.trust
        if trust is not None:
            notice = trust.notice or (trust.sandbox.describe() if trust.sandbox is not None else None)
            lines.append(Text(f"approval: {trust.mode}" + (f" · {notice}" if notice else ""),
                              style="yellow" if trust.notice else "dim"))
        lines.append(Text(
            f"escape to interrupt · ctrl+c twice to exit · enter while working steers · alt+enter or "
            f"{FOLLOW_UP_KEY} queues a follow-up · / for commands · ! to run bash · /help for more",
            style="dim",
        ))
        self.printer.print_now(lines)

    async def run(self, initial: list[tuple[str, list[ImageContent]]]) -> int:
        """Run until the user quits; returns the exit code."""
        self.banner()
        if self.rt.mcp is not None:
            self.rt.mcp.attach(self)
        show_notices(self, self.rt.custom)
        if self.session.agent.messages:  # a resumed session: show where it left off
            self.printer.print_now(render.history(self.session.agent.messages))
        unsubscribe = self.session.subscribe(self._on_event)
        loop = asyncio.get_running_loop()
        handled: list[int] = []
        try:
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
            handled.append(signal.SIGINT)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        restore_exit_signals = install_exit_signals(self._terminate)
        ticker = loop.create_task(self._ticker())
        if initial:
            self._start(expand_initial(self._commands, initial))
        try:
            while not self._quitting:
                try:
                    await self.prompt.prompt_async(handle_sigint=False)
                except (EOFError, KeyboardInterrupt):
                    self._quitting = True
                except OSError:  # the terminal went away (SIGHUP follows, or already came)
                    self._quitting = True
        finally:
            await self._shutdown(ticker, handled, unsubscribe)
            restore_exit_signals()
        return self._exit_code

    def _on_resize(self) -> None:
        """SIGWINCH (or a size change seen by polling): redraw once the size has settled."""
        if self._resize_task is not None and not self._resize_task.done():
            self._resize_task.cancel()
        self._resize_task = asyncio.get_running_loop().create_task(self._redraw_after_resize())

    async def _redraw_after_resize(self) -> None:
        await asyncio.sleep(_RESIZE_SETTLE)  # a dragged window edge sends many sizes
        self._resize_task = None  # from here on a new resize waits for this redraw
        await self.printer.redraw()

    def _on_sigint(self) -> None:
        """An outside SIGINT (``kill -INT``) acts as Ctrl+C does."""
        self.interrupt(ctrl_c=True)

    def _terminate(self, code: int) -> None:
        """SIGTERM/SIGHUP: abort what runs (killing tools' process groups) and leave with ``code``."""
        self._exit_code = code
        if self.dialog.active:  # a pending permission question must not hold the exit
            self.dialog.cancel()
        self.quit_if_empty()

    async def _shutdown(self, ticker: asyncio.Task[None], handled: list[int], unsubscribe: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in handled:
            loop.remove_signal_handler(sig)
        ticker.cancel()
        if self._resize_task is not None:
            self._resize_task.cancel()
        if self.working or self._shell is not None:
            self._abort()
        for task in (self._agent_task, self._side_task):
            if task is not None and not task.done():
                done, _ = await asyncio.wait({task}, timeout=5)
                if not done:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(ticker, return_exceptions=True)
        await self.printer.close()
        if callable(unsubscribe):
            unsubscribe()


def _console(settings: Settings) -> tuple[Console, bool]:
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if callable(reconfigure):
        try:  # a non-UTF-8 terminal gets '?' for what it cannot show, never an exception
            reconfigure(errors="replace")
        except (ValueError, OSError):
            pass
    no_color = "NO_COLOR" in settings.env
    # the terminal's own size, always: an exported COLUMNS/LINES would pin rich to a width
    # that is wrong as soon as the window is resized
    environ = {k: v for k, v in settings.env.items() if k not in ("COLUMNS", "LINES")}
    console = Console(file=sys.stdout, no_color=no_color, emoji=False, highlight=False, _environ=environ)
    return console, not no_color


async def run_repl(opts: RunOptions, settings: Settings) -> int:
    """``opi chat``: build the runtime, send the MESSAGE arguments in turn, then read input."""
    await ask_project_trust(settings)
    prompts = prepare_prompts(opts.messages, None, settings.cwd, then=opts.then)
    rt = await build_runtime(opts, settings)
    try:
        console, color = _console(settings)
        enable_shift_enter()
        repl = Repl(rt, settings, console, color=color)
        return await repl.run(prompts)
    finally:
        await rt.aclose()
