"""The commands of ``opi --mode rpc`` (pi's command set; schemas in cli/rpc_schema.py).

Each handler takes the server and the validated command object and returns the response's
``data`` (:data:`NO_DATA` for none), or raises :class:`CommandError` (or an
:class:`~opi_cli.errors.OpiError`) whose message becomes the response's ``error``.
:data:`HANDLERS` says which commands are *serial*: they wait for the current run and run
one at a time, in arrival order.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from opi_cli._util.abort import AbortController
from opi_cli._util.jsonio import JsonValue
from opi_cli.agent.agent import user_message
from opi_cli.agent.messages import agent_message_to_json
from opi_cli.ai.model import Model
from opi_cli.ai.resolve import clamp_thinking, parse_thinking_level
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    ToolResultMessage,
    Usage,
    UserMessage,
    usage_to_json,
)
from opi_cli.cli.commands import run_shell
from opi_cli.cli.model_switch import available_models, next_thinking_level, switch_model
from opi_cli.session import navigation

if TYPE_CHECKING:
    from opi_cli.cli.rpc import RpcServer

__all__ = ["HANDLERS", "NO_DATA", "CommandError", "Handler", "NoData", "model_json"]


class CommandError(Exception):
    """A command that cannot be done; its message is the response's ``error``."""


class NoData:
    """Marks a success response without ``data`` (``None`` is the JSON ``null`` data)."""


NO_DATA = NoData()
Command = dict[str, JsonValue]
Handler = Callable[["RpcServer", Command], Awaitable[JsonValue]]


def model_json(m: Model) -> dict[str, JsonValue]:
    """pi's Model object (no headers: they may hold keys)."""
    c = m.cost
    return {
        "id": m.id, "name": m.display_name, "api": m.api, "provider": m.provider, "baseUrl": m.base_url,
        "reasoning": m.reasoning, "input": list(m.input),
        "cost": {"input": c.input, "output": c.output, "cacheRead": c.cache_read, "cacheWrite": c.cache_write},
        "contextWindow": m.context_window, "maxTokens": m.max_tokens,
    }


def _images(cmd: Command) -> list[ImageContent]:
    out = []
    for n, image in enumerate(cmd.get("images") or ()):
        if not str(image["mimeType"]).startswith("image/"):
            raise CommandError(f"images[{n}].mimeType {image['mimeType']!r} is not an image type (e.g. image/png).")
        try:
            base64.b64decode(image["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CommandError(f"images[{n}].data is not base64 ({exc}).") from exc
        out.append(ImageContent(image["data"], image["mimeType"]))
    return out


def _queue(srv: RpcServer, kind: Literal["steer", "follow_up"], cmd: Command) -> None:
    message = user_message(srv.rt.expand(str(cmd["message"])), _images(cmd))
    agent = srv.session.agent
    (agent.steer if kind == "steer" else agent.follow_up)(message)


# -- prompting


async def _prompt(srv: RpcServer, cmd: Command) -> JsonValue:
    images = _images(cmd)
    text = srv.rt.expand(str(cmd["message"]))  # /template args, /skill:name
    if not text.strip() and not images:
        raise CommandError("prompt needs a non-empty message (or images).")
    if not srv.streaming:
        async with srv.serial:  # after a compaction or session switch in flight
            if not srv.streaming:
                srv.start_run(text, images)
                return NO_DATA
    behavior = cmd.get("streamingBehavior")
    if behavior is None:
        raise CommandError('A run is in progress: send steer or follow_up, or prompt with "streamingBehavior": '
                           '"steer" or "followUp".')
    _queue(srv, "steer" if behavior == "steer" else "follow_up", cmd)
    return NO_DATA


async def _steer(srv: RpcServer, cmd: Command) -> JsonValue:
    _queue(srv, "steer", cmd)
    return NO_DATA


async def _follow_up(srv: RpcServer, cmd: Command) -> JsonValue:
    _queue(srv, "follow_up", cmd)
    return NO_DATA


async def _abort(srv: RpcServer, cmd: Command) -> JsonValue:
    steering, follow_up = srv.session.agent.clear_queues()  # else they would ride along with the next prompt
    srv.session.abort("Aborted")
    await srv.wait_idle()
    return {"steering": steering, "followUp": follow_up}


# -- state and settings


async def _get_state(srv: RpcServer, cmd: Command) -> JsonValue:
    s, agent = srv.session, srv.session.agent
    steering, follow_up = agent.queued_texts()
    state: dict[str, JsonValue] = {
        "model": model_json(agent.model), "thinkingLevel": agent.thinking_level, "isStreaming": srv.streaming,
        "isCompacting": srv.compacting > 0, "steeringMode": agent.options.steering_mode,
        "followUpMode": agent.options.follow_up_mode,
    }
    if s.session_file is not None:
        state["sessionFile"] = s.session_file
    state["sessionId"] = s.session_id
    if s.name:
        state["sessionName"] = s.name
    state.update({
        "autoCompactionEnabled": s.compaction.enabled, "autoRetryEnabled": agent.options.retry.enabled,
        "messageCount": len(agent.messages), "pendingMessageCount": len(steering) + len(follow_up),
    })
    return state


async def _get_messages(srv: RpcServer, cmd: Command) -> JsonValue:
    return {"messages": [agent_message_to_json(m) for m in srv.session.agent.messages]}


async def _set_model(srv: RpcServer, cmd: Command) -> JsonValue:
    provider, model_id = str(cmd["provider"]), str(cmd["modelId"])
    model = srv.rt.registry.get(provider, model_id)
    if model is None:
        raise CommandError(f"Model not found: {provider}/{model_id} (get_available_models lists them).")
    switch_model(srv.session, srv.rt.registry, srv.rt.settings, model)
    return model_json(model)


async def _available(srv: RpcServer) -> list[Model]:
    return available_models(srv.rt.registry, srv.rt.settings, srv.session.agent.model)


async def _cycle_model(srv: RpcServer, cmd: Command) -> JsonValue:
    models = await _available(srv)
    if len(models) < 2:
        return None
    current = srv.session.agent.model.ref
    at = next((i for i, m in enumerate(models) if m.ref == current), -1)
    model = models[(at + 1) % len(models)]
    level = switch_model(srv.session, srv.rt.registry, srv.rt.settings, model)
    return {"model": model_json(model), "thinkingLevel": level, "isScoped": False}


async def _get_available_models(srv: RpcServer, cmd: Command) -> JsonValue:
    return {"models": [model_json(m) for m in await _available(srv)]}


async def _set_thinking_level(srv: RpcServer, cmd: Command) -> JsonValue:
    level = parse_thinking_level(str(cmd["level"]))
    assert level is not None  # the schema allows only the six levels
    actual = clamp_thinking(srv.session.agent.model, level)
    srv.session.set_thinking_level(actual)
    return {"level": actual}


async def _cycle_thinking_level(srv: RpcServer, cmd: Command) -> JsonValue:
    agent = srv.session.agent
    level = next_thinking_level(agent.model, agent.thinking_level)
    if level is None:
        return None
    srv.session.set_thinking_level(level)
    return {"level": level}


async def _set_steering_mode(srv: RpcServer, cmd: Command) -> JsonValue:
    srv.session.agent.options.steering_mode = "all" if cmd["mode"] == "all" else "one-at-a-time"
    return NO_DATA


async def _set_follow_up_mode(srv: RpcServer, cmd: Command) -> JsonValue:
    srv.session.agent.options.follow_up_mode = "all" if cmd["mode"] == "all" else "one-at-a-time"
    return NO_DATA


async def _set_auto_compaction(srv: RpcServer, cmd: Command) -> JsonValue:
    srv.session.compaction = replace(srv.session.compaction, enabled=bool(cmd["enabled"]))
    return NO_DATA


async def _set_auto_retry(srv: RpcServer, cmd: Command) -> JsonValue:
    options = srv.session.agent.options
    options.retry = replace(options.retry, enabled=bool(cmd["enabled"]))
    return NO_DATA


async def _abort_retry(srv: RpcServer, cmd: Command) -> JsonValue:
    if srv.retrying:
        srv.session.abort("Retry cancelled")
    return NO_DATA


async def _set_session_name(srv: RpcServer, cmd: Command) -> JsonValue:
    srv.session.set_name(str(cmd["name"]).strip())
    return NO_DATA


async def _get_commands(srv: RpcServer, cmd: Command) -> JsonValue:
    return {"commands": []}


# -- compaction and bash


async def _compact(srv: RpcServer, cmd: Command) -> JsonValue:
    focus = cmd.get("customInstructions")
    outcome = await srv.session.compact(str(focus) if focus else None)
    if outcome.result is None:
        raise CommandError(outcome.message or f"Nothing was compacted ({outcome.status}).")
    return outcome.result.to_json()


async def _bash(srv: RpcServer, cmd: Command) -> JsonValue:
    command = str(cmd["command"]).strip()
    if not command:
        raise CommandError("bash needs a command.")
    if srv.bash is not None:
        raise CommandError("A bash command is already running: wait for its answer, or send abort_bash.")
    controller = srv.bash = AbortController()
    try:
        msg = await run_shell(command, str(srv.rt.settings.cwd), controller.signal, lambda _tail: None, srv.rt.shell_env)
    finally:
        srv.bash = None
    async with srv.serial:  # the context changes only between runs
        await srv.wait_idle()
        srv.session.add_message(msg)
    data: dict[str, JsonValue] = {"output": msg.output, "exitCode": msg.exit_code, "cancelled": msg.cancelled,
                                  "truncated": msg.truncated}
    if msg.full_output_path is not None:
        data["fullOutputPath"] = msg.full_output_path
    return data


async def _abort_bash(srv: RpcServer, cmd: Command) -> JsonValue:
    if srv.bash is not None:
        srv.bash.abort("Cancelled")
    return NO_DATA


# -- sessions


async def _get_session_stats(srv: RpcServer, cmd: Command) -> JsonValue:
    msgs = srv.session.agent.messages
    replies = [m for m in msgs if isinstance(m, AssistantMessage)]
    usage = Usage()
    for m in replies:
        usage = usage.plus(m.usage)
    u = usage_to_json(usage)
    return {
        "sessionFile": srv.session.session_file, "sessionId": srv.session.session_id,
        "userMessages": sum(isinstance(m, UserMessage) for m in msgs), "assistantMessages": len(replies),
        "toolCalls": sum(len(m.tool_calls) for m in replies),
        "toolResults": sum(isinstance(m, ToolResultMessage) for m in msgs), "totalMessages": len(msgs),
        "tokens": {"input": u["input"], "output": u["output"], "cacheRead": u["cacheRead"],
                   "cacheWrite": u["cacheWrite"], "total": u["totalTokens"]},
        "cost": u["cost"]["total"],
    }


async def _export_html(srv: RpcServer, cmd: Command) -> JsonValue:
    target = cmd.get("outputPath")
    return {"path": await srv.session.export(str(target) if target else None)}


async def _new_session(srv: RpcServer, cmd: Command) -> JsonValue:
    parent = cmd.get("parentSession")
    await srv.session.new_session(str(parent) if parent else None)
    return {"cancelled": False}


async def _switch_session(srv: RpcServer, cmd: Command) -> JsonValue:
    await srv.session.switch_session(str(cmd["sessionPath"]))
    return {"cancelled": False}


async def _fork_messages(srv: RpcServer) -> list[tuple[str, str]]:
    await srv.session.flush()
    return await navigation.fork_messages(srv.session.writer)


async def _fork(srv: RpcServer, cmd: Command) -> JsonValue:
    entry_id = str(cmd["entryId"])
    if entry_id not in dict(await _fork_messages(srv)):
        raise CommandError(f"No user message {entry_id!r} on the current path (get_fork_messages lists them).")
    return {"text": await srv.session.fork(entry_id), "cancelled": False}


async def _get_fork_messages(srv: RpcServer, cmd: Command) -> JsonValue:
    return {"messages": [{"entryId": i, "text": t} for i, t in await _fork_messages(srv)]}


async def _get_last_assistant_text(srv: RpcServer, cmd: Command) -> JsonValue:
    last = srv.session.agent.last_assistant
    return {"text": last.text if last is not None and last.text else None}


HANDLERS: dict[str, tuple[Handler, bool]] = {
    # name: (handler, serial)
    "prompt": (_prompt, False),  # takes the serial lock itself, only to start a run
    "steer": (_steer, False),
    "follow_up": (_follow_up, False),
    "abort": (_abort, False),
    "new_session": (_new_session, True),
    "get_state": (_get_state, False),
    "get_messages": (_get_messages, False),
    "set_model": (_set_model, False),
    "cycle_model": (_cycle_model, False),
    "get_available_models": (_get_available_models, False),
    "set_thinking_level": (_set_thinking_level, False),
    "cycle_thinking_level": (_cycle_thinking_level, False),
    "set_steering_mode": (_set_steering_mode, False),
    "set_follow_up_mode": (_set_follow_up_mode, False),
    "compact": (_compact, True),
    "set_auto_compaction": (_set_auto_compaction, False),
    "set_auto_retry": (_set_auto_retry, False),
    "abort_retry": (_abort_retry, False),
    "bash": (_bash, False),  # runs at once; its message joins the context between runs
    "abort_bash": (_abort_bash, False),
    "get_session_stats": (_get_session_stats, False),
    "export_html": (_export_html, True),
    "switch_session": (_switch_session, True),
    "fork": (_fork, True),
    "get_fork_messages": (_get_fork_messages, False),
    "get_last_assistant_text": (_get_last_assistant_text, False),
    "set_session_name": (_set_session_name, False),
    "get_commands": (_get_commands, False),
}
