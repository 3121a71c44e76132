"""Compose one run from options and settings: model, key, tools, system prompt, agent, session.

Used by the non-interactive modes and the REPL alike, so both build exactly the same
agent. Bad configuration raises :class:`~opi_cli.errors.ConfigError` (exit 2) with one line
that says what to set.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opi_cli._util.records import record
from opi_cli._util.redact import mask_dsn
from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.agent.loop import RetrySettings
from opi_cli.agent.tool import Tool
from opi_cli.ai.catalog import ModelRegistry
from opi_cli.ai.model import Model
from opi_cli.ai.provider import StreamOptions
from opi_cli.ai.resolve import (
    ModelQuery,
    NoModelError,
    clamp_thinking,
    detect_local_server,
    parse_thinking_level,
    require_api_key,
    resolve_model,
)
from opi_cli.ai.stream import ApiProvider
from opi_cli.ai.types import THINKING_LEVELS, ImageContent, ThinkingLevel
from opi_cli.cli.customize import Customization, load_customization
from opi_cli.cli.http_settings import http_timeouts
from opi_cli.cli.mcp_start import REFERENCE, start_mcp
from opi_cli.cli.options import RunOptions
from opi_cli.cli.settings import Settings
from opi_cli.cli.shell_policy import shell_env
from opi_cli.cli.system_prompt import SystemPromptInputs, build_system_prompt, text_or_file
from opi_cli.cli.trust import Trust, build_trust, check_trust_settings
from opi_cli.errors import OpiError, UsageError
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.compaction import CompactionSettings
from opi_cli.session.factory import create_agent_session
from opi_cli.session.store import SessionStore
from opi_cli.session.stores import JsonlStore, MemoryStore
from opi_cli.session.writer import SessionWriter
from opi_cli.tools import ALL_TOOLS, DEFAULT_TOOLS, LocalShellOps, create_builtin_tools

if TYPE_CHECKING:
    from opi_cli.cli.mcp_runtime import McpHost

__all__ = ["Runtime", "build_runtime", "prepare_prompts"]

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@record(frozen=False)
class Runtime:
    settings: Settings
    registry: ModelRegistry
    model: Model
    session: AgentSession
    tools: dict[str, Tool] = field(default_factory=dict)
    closers: list[Any] = field(default_factory=list)
    store: SessionStore | None = None
    trust: Trust | None = None
    mcp: McpHost | None = None
    custom: Customization | None = None  # skills, templates, settings hooks, extensions
    shell_env: dict[str, str] | None = None  # the environment of commands (bash tool, !cmd)

    def expand(self, text: str) -> str:
        """``/template args`` and ``/skill:name args`` as the prompt they stand for (other text as is)."""
        return self.custom.prompts.expand(text) if self.custom is not None else text

    def show_notices_on_stderr(self) -> None:
        """Headless modes: what customization has to say goes to stderr, one line each."""
        if self.custom is not None:
            from opi_cli.cli.customize import stderr_notice

            self.custom.set_notify(stderr_notice)

    async def aclose(self) -> None:
        """Close the session (sync + unlock), the store and the HTTP client."""
        try:
            await self.session.close()
        finally:
            if self.store is not None:
                await self.store.close()
            for closer in self.closers:
                await closer.aclose()

    async def expand_references(self, text: str, images: list[ImageContent]) -> tuple[str, list[ImageContent]]:
        """Attach the ``@server:uri`` MCP resources mentioned in ``text``.

        Raises:
            OpiError: a server that is not running or cannot read the resource.
        """
        if self.mcp is not None:
            return await self.mcp.expand(text, images)
        if (ref := REFERENCE.search(text)) is not None:
            raise UsageError(f"{ref.group(0)}: no MCP server is configured (see `opi mcp add`).")
        return text, images


def _retry(settings: Settings) -> RetrySettings:
    r = settings.section("retry")
    return RetrySettings(
        bool(r.get("enabled", True)),
        int(r.get("maxRetries", 3)),
        int(r.get("baseDelayMs", 2000)),
        int(r.get("maxDelayMs", 60000)),
    )


def _compaction(settings: Settings) -> CompactionSettings:
    c = settings.section("compaction")
    return CompactionSettings(
        bool(c.get("enabled", True)), int(c.get("reserveTokens", 16384)), int(c.get("keepRecentTokens", 20000))
    )


def select_tools(opts: RunOptions, cwd: Path, model: Model, env: dict[str, str] | None = None) -> dict[str, Tool]:
    """The active built-in tools from ``--tools`` / ``--no-tools``; their commands get ``env``.

    Raises:
        UsageError: an unknown tool name (the message lists the known ones).
    """
    names: list[str]
    if opts.tools is not None:
        names = [n.strip() for n in opts.tools.split(",") if n.strip()]
        unknown = [n for n in names if n not in ALL_TOOLS]
        if unknown:
            raise UsageError(
                f"Unknown tool{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                f"Known tools: {', '.join(ALL_TOOLS)}."
            )
    elif opts.no_tools:
        names = []
    else:
        names = list(DEFAULT_TOOLS)
    available = create_builtin_tools(
        str(cwd), supports_images=model.supports_images, edit_needs_read="read" in names, shell_ops=LocalShellOps(env),
        names=names,
    )
    return {n: available[n] for n in names}


async def _probe(base_url: str) -> bool:
    from opi_cli.ai.http import probe_models

    return await probe_models(base_url)


async def _choose_model(opts: RunOptions, settings: Settings, registry: ModelRegistry) -> tuple[Model, ThinkingLevel | None]:
    query = ModelQuery(
        model=opts.model,
        provider=opts.provider,
        base_url=opts.base_url,
        api=opts.api,
        default_provider=settings.get("defaultProvider"),
        default_model=settings.get("defaultModel"),
        cli_key=opts.api_key,
        auth_path=settings.auth_json,
    )
    try:
        return resolve_model(registry, query, env=settings.env)
    except NoModelError as exc:
        found = await detect_local_server(_probe)
        if found is None:
            raise NoModelError(_first_run_help(registry)) from exc
        from opi_cli.ai.http import list_model_ids

        ids = await list_model_ids(found.base_url)
        if not ids:
            raise NoModelError(_first_run_help(registry)) from exc
        return registry.unknown_model(found.provider, ids[0], base_url=found.base_url), None


def _thinking(opts: RunOptions, settings: Settings, suffix: ThinkingLevel | None, model: Model) -> ThinkingLevel:
    level: ThinkingLevel | None = None
    if opts.thinking is not None:
        level = parse_thinking_level(opts.thinking)
        if level is None:
            raise UsageError(f"Unknown thinking level '{opts.thinking}'. Use one of: {', '.join(THINKING_LEVELS)}.")
    level = level or suffix or parse_thinking_level(str(settings.get("defaultThinkingLevel", "medium"))) or "medium"
    return clamp_thinking(model, level)


async def open_store(opts: RunOptions, settings: Settings) -> SessionStore:
    """The session store chosen by ``--no-session`` / ``--store`` / ``--session-dir``."""
    if opts.no_session:
        return MemoryStore()
    if opts.store:
        if not opts.store.startswith(("postgresql://", "postgres://")):
            shown = mask_dsn(opts.store, opts.store)
            raise UsageError(f"Unsupported --store {shown!r}: use postgresql://... (JSONL files are the default).")
        from opi_cli.session.stores.postgres import PostgresStore

        return await PostgresStore.connect(opts.store)
    session_dir = Path(opts.session_dir).expanduser() if opts.session_dir else None
    return JsonlStore(settings.sessions_dir, session_dir=session_dir)


async def open_writer(opts: RunOptions, store: SessionStore, cwd: str) -> tuple[SessionWriter, bool]:
    """(writer, is_new): resume ``opts.session``, continue the newest, or start a new session."""
    if opts.session:
        return await SessionWriter.open(store, opts.session, cwd=cwd), False
    if opts.continue_session:
        infos = await store.list_sessions(cwd)
        if infos:
            newest = max(infos, key=lambda i: i.modified)
            return await SessionWriter.open(store, newest.location, cwd=cwd), False
    return await SessionWriter.create(store, cwd=cwd), True


async def build_runtime(opts: RunOptions, settings: Settings) -> Runtime:
    """Everything a run needs, or a ConfigError/UsageError saying what is wrong."""
    check_trust_settings(opts, settings)  # a bad --approval is reported before a missing key
    http_timeouts(settings, opts.timeout)  # a bad --timeout stops the run before any file is made
    registry = ModelRegistry.load(settings.models_json)
    store = await open_store(opts, settings)
    try:
        return await _build(opts, settings, registry, store)
    except BaseException:
        await store.close()
        raise


def _saved_model(opts: RunOptions, registry: ModelRegistry, saved: tuple[str, str] | None) -> Model | None:
    """On resume without --model/--provider: the session's model (at --base-url if given)."""
    if saved is None or opts.model or opts.provider:
        return None
    provider, model_id = saved
    found = registry.get(provider, model_id)
    if found is None:
        try:
            found = registry.unknown_model(provider, model_id, base_url=opts.base_url)
        except OpiError:
            return None
    if opts.base_url:
        found = replace(found, base_url=opts.base_url.rstrip("/"))
    return found


async def _build(opts: RunOptions, settings: Settings, registry: ModelRegistry, store: SessionStore) -> Runtime:
    writer, is_new = await open_writer(opts, store, str(settings.cwd))
    try:
        ctx = None if is_new else await writer.context()
        model = _saved_model(opts, registry, ctx.model if ctx else None)
        suffix: ThinkingLevel | None = None
        if model is None:
            model, suffix = await _choose_model(opts, settings, registry)
        return await _assemble(opts, settings, registry, store, writer, is_new, ctx, model, suffix)
    except BaseException:
        await writer.close()
        if is_new:  # a start that failed leaves no empty session behind
            with contextlib.suppress(OpiError, OSError):
                await store.delete(writer.location)
        raise


async def _assemble(
    opts: RunOptions, settings: Settings, registry: ModelRegistry, store: SessionStore, writer: SessionWriter,
    is_new: bool, ctx: Any, model: Model, suffix: ThinkingLevel | None,
) -> Runtime:
    api_key = require_api_key(model, registry, cli_key=opts.api_key, auth_path=settings.auth_json, env=settings.env)
    saved_level = parse_thinking_level(ctx.thinking_level) if ctx is not None and ctx.thinking_level else None
    thinking = _thinking(opts, settings, suffix or saved_level, model)
    cwd = settings.cwd
    commands_env = shell_env(settings, registry)
    tools = select_tools(opts, cwd, model, commands_env)
    path = writer.handle.path
    custom = load_customization(settings, set(tools), writer_ids=(writer.session_id, str(path) if path else None))
    tools.update({t.name: t for t in custom.tools})
    trust = await build_trust(opts, settings, tools, interactive=bool(opts.interactive), persistent=not opts.no_session,
                              readable=[str(s.folder) for s in custom.prompts.skills.values()])
    trust.report_to(custom.notify)  # ignored project settings, lost rewind snapshots: where notices go
    appended = [t for t in (text_or_file(a, cwd, option="--append-system-prompt") for a in opts.append_system_prompt) if t]
    prompt = build_system_prompt(
        SystemPromptInputs(
            cwd=cwd,
            home=settings.home,
            tools=[(name, str(getattr(tool, "prompt_snippet", "") or "")) for name, tool in tools.items()],
            custom_prompt=text_or_file(opts.system_prompt, cwd),
            append_prompt="\n\n".join(appended) if appended else None,
            skills=custom.skill_entries(),
        )
    )
    from opi_cli.ai.http import make_client

    client = make_client()
    agent = Agent(
        AgentOptions(
            model=model,
            provider=ApiProvider(),
            system_prompt=prompt,
            tools=list(tools.values()),
            thinking_level=thinking,
            retry=_retry(settings),
            max_turns=opts.max_turns,
            steering_mode=settings.get("steeringMode", "one-at-a-time"),
            follow_up_mode=settings.get("followUpMode", "one-at-a-time"),
            stream_options=StreamOptions(
                api_key=api_key, client=client, session_id=writer.session_id,
                timeouts=http_timeouts(settings, opts.timeout), key_endpoint=model.base_url if api_key else None,
            ),
            messages=list(ctx.messages) if ctx is not None else [],
            hooks=custom.agent_hooks(trust.hooks()),  # the permission gate first: a denied call runs no hook
        )
    )
    mcp = None if opts.no_tools else start_mcp(settings, agent)  # None when no MCP server is configured
    session = await create_agent_session(
        agent, writer, record_settings=is_new, compaction=_compaction(settings), session_hooks=custom.session_hooks()
    )
    trust.attach(session)
    custom.attach(session)
    closers: list[Any] = [client, *([mcp] if mcp else [])]
    return Runtime(settings, registry, model, session, tools, closers, store, trust, mcp, custom, commands_env)


def _first_run_help(registry: ModelRegistry) -> str:
    from opi_cli.cli.login import first_run_help  # only when no model can be chosen

    return first_run_help(registry)


def _sniff_image(data: bytes) -> str | None:
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def prepare_prompts(
    messages: list[str],
    stdin_text: str | None,
    cwd: Path,
    expand: Callable[[str], str] | None = None,
    *,
    then: Sequence[str] = (),
) -> list[tuple[str, list[ImageContent]]]:
    """The prompts of one invocation: all the words form one prompt (``@path`` words attach
    files to it, piped stdin text starts it); each ``--then`` MESSAGE is one more prompt.
    ``expand`` rewrites the words' text, the stdin text and each ``--then`` message
    (``/template args`` and ``/skill:name`` as the prompts they stand for). An
    ``@server:scheme://path`` word that is not a file stays in the first prompt's text, for
    :meth:`Runtime.expand_references` (MCP resources).

    Raises:
        UsageError: an attached file does not exist or cannot be read.
    """
    prefix = ""
    images: list[ImageContent] = []
    words: list[str] = []
    for word in messages:
        if word.startswith("@") and len(word) > 1:
            path = Path(word[1:]).expanduser()
            path = path if path.is_absolute() else cwd / path
            if REFERENCE.fullmatch(word) and not path.exists():  # @server:uri, attached once MCP is up
                prefix += word + "\n"
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError as exc:
                raise UsageError(f"File not found: {path} (from {word})") from exc
            except OSError as exc:
                raise UsageError(f"Cannot read {path}: {exc.strerror}") from exc
            if not data:
                continue
            mime = _sniff_image(data)
            if mime is not None:
                images.append(ImageContent(base64.b64encode(data).decode("ascii"), mime))
                prefix += f'<file name="{path}"></file>\n'
            else:
                text = data.decode("utf-8", errors="replace")
                prefix += f'<file name="{path}">\n{text}\n</file>\n'
            continue
        words.append(word)
    def expanded(text: str) -> str:
        return expand(text) if expand is not None else text

    said = " ".join(words)
    stdin = expanded(stdin_text.strip()) if stdin_text and stdin_text.strip() else ""
    first = (stdin + "\n\n" if stdin else "") + prefix + (expanded(said) if said else "")
    out: list[tuple[str, list[ImageContent]]] = []
    if first.strip() or images:
        out.append((first.rstrip("\n") if not words else first, images))
    out += [(expanded(t), []) for t in then if t.strip()]
    return out
