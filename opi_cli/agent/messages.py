"""Agent-level messages: the LLM messages plus the coding agent's own kinds.

``bashExecution`` (a user's ``!cmd``), ``custom`` (extension/app messages),
``branchSummary`` and ``compactionSummary`` live in the conversation and in session files
like any message; :func:`convert_to_llm` turns them into user messages for the model
(the shapes of reference/pi.md §2.1).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.ai.types import (
    AssistantMessage,
    ImageContent,
    Message,
    TextContent,
    ToolResultMessage,
    UserContent,
    UserMessage,
    content_to_json,
    message_from_json,
    message_to_json,
)

__all__ = [
    "COMPACTION_SUMMARY_PREFIX",
    "AgentMessage",
    "BashExecutionMessage",
    "BranchSummaryMessage",
    "CompactionSummaryMessage",
    "CustomMessage",
    "agent_message_from_json",
    "agent_message_to_json",
    "convert_to_llm",
]

COMPACTION_SUMMARY_PREFIX = (
    "The conversation history before this point was compacted into the following summary:\n\n<summary>\n"
)
BRANCH_SUMMARY_PREFIX = (
    "The following is a summary of a branch that this conversation came back from:\n\n<summary>\n"
)


@record
class BashExecutionMessage:
    command: str
    output: str
    exit_code: int | None
    cancelled: bool
    truncated: bool
    timestamp: int
    full_output_path: str | None = None
    exclude_from_context: bool = False
    role: Literal["bashExecution"] = "bashExecution"


@record
class CustomMessage:
    custom_type: str
    content: tuple[UserContent, ...]
    display: bool
    timestamp: int
    details: JsonValue = None
    role: Literal["custom"] = "custom"


@record
class BranchSummaryMessage:
    summary: str
    from_id: str
    timestamp: int
    role: Literal["branchSummary"] = "branchSummary"


@record
class CompactionSummaryMessage:
    summary: str
    tokens_before: int
    timestamp: int
    role: Literal["compactionSummary"] = "compactionSummary"


AgentMessage: TypeAlias = (
    Message | BashExecutionMessage | CustomMessage | BranchSummaryMessage | CompactionSummaryMessage
)


def agent_message_to_json(m: AgentMessage) -> dict[str, JsonValue]:
    if isinstance(m, UserMessage | AssistantMessage | ToolResultMessage):
        return message_to_json(m)
    if isinstance(m, BashExecutionMessage):
        d: dict[str, JsonValue] = {
            "role": "bashExecution",
            "command": m.command,
            "output": m.output,
            "exitCode": m.exit_code,
            "cancelled": m.cancelled,
            "truncated": m.truncated,
        }
        if m.full_output_path is not None:
            d["fullOutputPath"] = m.full_output_path
        if m.exclude_from_context:
            d["excludeFromContext"] = True
        d["timestamp"] = m.timestamp
        return d
    if isinstance(m, CustomMessage):
        d = {
            "role": "custom",
            "customType": m.custom_type,
            "content": [content_to_json(c) for c in m.content],
            "display": m.display,
        }
        if m.details is not None:
            d["details"] = m.details
        d["timestamp"] = m.timestamp
        return d
    if isinstance(m, BranchSummaryMessage):
        return {"role": "branchSummary", "summary": m.summary, "fromId": m.from_id, "timestamp": m.timestamp}
    return {
        "role": "compactionSummary",
        "summary": m.summary,
        "tokensBefore": m.tokens_before,
        "timestamp": m.timestamp,
    }


def agent_message_from_json(d: dict[str, JsonValue]) -> AgentMessage:
    """Parse any message role; ``hookMessage`` (pi v2) is read as ``custom``.

    Raises:
        ValueError: unknown role.
    """
    role = d.get("role")
    ts = int(d.get("timestamp", 0) or 0)
    if role == "bashExecution":
        code = d.get("exitCode")
        return BashExecutionMessage(
            str(d.get("command", "")),
            str(d.get("output", "")),
            int(code) if isinstance(code, int | float) else None,
            bool(d.get("cancelled", False)),
            bool(d.get("truncated", False)),
            ts,
            d.get("fullOutputPath"),
            bool(d.get("excludeFromContext", False)),
        )
    if role in ("custom", "hookMessage"):
        raw = d.get("content")
        content: tuple[UserContent, ...]
        if isinstance(raw, str):
            content = (TextContent(raw),)
        else:
            user = message_from_json({"role": "user", "content": raw or []})
            content = user.content if isinstance(user, UserMessage) else ()
        return CustomMessage(
            str(d.get("customType", "")), content, bool(d.get("display", True)), ts, d.get("details")
        )
    if role == "branchSummary":
        return BranchSummaryMessage(str(d.get("summary", "")), str(d.get("fromId", "")), ts)
    if role == "compactionSummary":
        return CompactionSummaryMessage(str(d.get("summary", "")), int(d.get("tokensBefore", 0) or 0), ts)
    return message_from_json(d)


def bash_execution_text(m: BashExecutionMessage) -> str:
    """How a ``!cmd`` run reads to the model."""
    text = f"Ran `{m.command}`\n"
    text += f"```\n{m.output}\n```" if m.output else "(no output)"
    if m.cancelled:
        text += "\n\n(command cancelled)"
    elif m.exit_code not in (None, 0):
        text += f"\n\nCommand exited with code {m.exit_code}"
    if m.truncated and m.full_output_path:
        text += f"\n\n[Output truncated. Full output: {m.full_output_path}]"
    return text


def convert_to_llm(messages: list[AgentMessage] | tuple[AgentMessage, ...]) -> list[Message]:
    """Agent messages -> what the provider sees: extra roles become user messages.

    Nothing else changes here: failed turns, orphan results and calls without a result are
    repaired once, by every adapter, in :func:`opi_cli.ai.history.repair_history`.
    """
    out: list[Message] = []
    for m in messages:
        if isinstance(m, UserMessage | AssistantMessage | ToolResultMessage):
            out.append(m)
        elif isinstance(m, BashExecutionMessage):
            if not m.exclude_from_context:
                out.append(UserMessage((TextContent(bash_execution_text(m)),), m.timestamp))
        elif isinstance(m, CustomMessage):
            out.append(UserMessage(m.content, m.timestamp))
        elif isinstance(m, BranchSummaryMessage):
            out.append(UserMessage((TextContent(BRANCH_SUMMARY_PREFIX + m.summary + "\n</summary>"),), m.timestamp))
        else:
            out.append(
                UserMessage((TextContent(COMPACTION_SUMMARY_PREFIX + m.summary + "\n</summary>"),), m.timestamp)
            )
    return out


def image_blocks(content: tuple[UserContent, ...]) -> list[ImageContent]:
    return [c for c in content if isinstance(c, ImageContent)]
