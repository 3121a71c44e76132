"""Session header and entry values with exact JSON round trips (the format of PROTOCOL.md §4.1).

Every entry keeps the keys it did not understand in ``extra``, so a file written by a newer
pi or opi survives being read and written again; an entry of an unknown ``type`` becomes an
:class:`UnknownEntry` that still takes part in the tree. Parsing never raises: bad input
gives an :class:`EntryError` value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Literal, TypeAlias

from opi_cli._util.jsonio import JsonValue, dumps_bytes, loads
from opi_cli._util.records import record
from opi_cli.agent.messages import AgentMessage, agent_message_from_json, agent_message_to_json
from opi_cli.ai.types import ImageContent, TextContent, UserContent, content_from_json, content_to_json

__all__ = [
    "CURRENT_VERSION",
    "BranchSummaryEntry",
    "CompactionEntry",
    "CustomEntry",
    "CustomMessageEntry",
    "Entry",
    "EntryError",
    "LabelEntry",
    "LeafEntry",
    "MessageEntry",
    "ModelChangeEntry",
    "SessionHeader",
    "SessionInfoEntry",
    "ThinkingLevelChangeEntry",
    "UnknownEntry",
    "entry_to_json",
    "entry_to_line",
    "header_from_json",
    "header_to_json",
    "header_to_line",
    "parse_entry",
    "parse_entry_line",
    "parse_header_line",
]

CURRENT_VERSION = 3

_Extra: TypeAlias = Mapping[str, JsonValue]
_COMMON = ("type", "id", "parentId", "timestamp")


_EMPTY: _Extra = MappingProxyType({})
"""The ``extra`` of an entry with no unknown fields: one shared, read-only mapping."""


def _no_extra() -> _Extra:
    return _EMPTY


@record
class EntryError:
    """A line that could not be read as an entry, and why."""

    reason: str


@record
class SessionHeader:
    """Line 1 of a session file; not part of the tree."""

    id: str
    timestamp: str
    cwd: str
    version: int = CURRENT_VERSION
    parent_session: str | None = None
    extra: _Extra = field(default_factory=_no_extra)


@record
class MessageEntry:
    """A conversation message. ``message_json`` keeps the stored shape for exact round trips."""

    id: str
    parent_id: str | None
    timestamp: str
    message: AgentMessage
    extra: _Extra = field(default_factory=_no_extra)
    message_json: Mapping[str, JsonValue] | None = field(default=None, compare=False, repr=False)
    type: Literal["message"] = "message"


@record
class ModelChangeEntry:
    id: str
    parent_id: str | None
    timestamp: str
    provider: str
    model_id: str
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["model_change"] = "model_change"


@record
class ThinkingLevelChangeEntry:
    id: str
    parent_id: str | None
    timestamp: str
    thinking_level: str
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["thinking_level_change"] = "thinking_level_change"


@record
class CompactionEntry:
    """Everything before ``first_kept_entry_id`` on the path is replaced by ``summary``."""

    id: str
    parent_id: str | None
    timestamp: str
    summary: str
    first_kept_entry_id: str
    tokens_before: int
    details: JsonValue = None
    from_hook: bool | None = None
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["compaction"] = "compaction"


@record
class BranchSummaryEntry:
    """A summary of the branch the user left (``from_id`` is the old leaf or ``"root"``)."""

    id: str
    parent_id: str | None
    timestamp: str
    from_id: str
    summary: str
    details: JsonValue = None
    from_hook: bool | None = None
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["branch_summary"] = "branch_summary"


@record
class CustomEntry:
    """Extension or application state; never sent to the model."""

    id: str
    parent_id: str | None
    timestamp: str
    custom_type: str
    data: JsonValue = None
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["custom"] = "custom"


@record
class CustomMessageEntry:
    """An extension's message that the model sees as a user message."""

    id: str
    parent_id: str | None
    timestamp: str
    custom_type: str
    content: str | tuple[UserContent, ...]
    display: bool
    details: JsonValue = None
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["custom_message"] = "custom_message"


@record
class LabelEntry:
    """Sets (or with ``label=None`` clears) the label of ``target_id``."""

    id: str
    parent_id: str | None
    timestamp: str
    target_id: str
    label: str | None = None
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["label"] = "label"


@record
class SessionInfoEntry:
    """Session metadata; the latest ``name`` wins."""

    id: str
    parent_id: str | None
    timestamp: str
    name: str | None = None
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["session_info"] = "session_info"


@record
class LeafEntry:
    """The current position moved to ``target_id`` (``None``: the next entry is a new root).

    opi writes ``parentId == targetId`` so that pi, which takes the last entry as the leaf,
    walks the same path.
    """

    id: str
    parent_id: str | None
    timestamp: str
    target_id: str | None
    extra: _Extra = field(default_factory=_no_extra)
    type: Literal["leaf"] = "leaf"


@record
class UnknownEntry:
    """An entry of a type this version does not know; kept verbatim in ``data``."""

    type: str
    id: str
    parent_id: str | None
    timestamp: str
    data: _Extra = field(default_factory=_no_extra)


Entry: TypeAlias = (
    MessageEntry
    | ModelChangeEntry
    | ThinkingLevelChangeEntry
    | CompactionEntry
    | BranchSummaryEntry
    | CustomEntry
    | CustomMessageEntry
    | LabelEntry
    | SessionInfoEntry
    | LeafEntry
    | UnknownEntry
)


# ---------------------------------------------------------------------------------------------
# to JSON


def header_to_json(h: SessionHeader) -> dict[str, JsonValue]:
    d: dict[str, JsonValue] = {"type": "session", "version": h.version, "id": h.id, "timestamp": h.timestamp}
    d["cwd"] = h.cwd
    if h.parent_session is not None:
        d["parentSession"] = h.parent_session
    d.update(h.extra)
    return d


def header_to_line(h: SessionHeader) -> bytes:
    """The header as one JSONL line, newline included."""
    return dumps_bytes(header_to_json(h)) + b"\n"


def _custom_content_to_json(content: str | tuple[UserContent, ...]) -> JsonValue:
    if isinstance(content, str):
        return content
    return [content_to_json(c) for c in content]


def _message_json(e: MessageEntry) -> JsonValue:
    stored = e.message_json
    if stored is not None:
        try:
            if agent_message_from_json(dict(stored)) == e.message:
                return dict(stored)
        except (ValueError, TypeError, AttributeError):
            pass
    return agent_message_to_json(e.message)


def entry_to_json(e: Entry) -> dict[str, JsonValue]:
    """The stored shape of an entry (camelCase keys, pi's key order, extras last)."""
    if isinstance(e, UnknownEntry):
        d: dict[str, JsonValue] = {
            "type": e.type,
            "id": e.id,
            "parentId": e.parent_id,
            "timestamp": e.timestamp,
        }
        d.update(e.data)
        return d
    d = {"type": e.type, "id": e.id, "parentId": e.parent_id, "timestamp": e.timestamp}
    match e:
        case MessageEntry():
            d["message"] = _message_json(e)
        case ModelChangeEntry():
            d["provider"] = e.provider
            d["modelId"] = e.model_id
        case ThinkingLevelChangeEntry():
            d["thinkingLevel"] = e.thinking_level
        case CompactionEntry():
            d["summary"] = e.summary
            d["firstKeptEntryId"] = e.first_kept_entry_id
            d["tokensBefore"] = e.tokens_before
            if e.details is not None:
                d["details"] = e.details
            if e.from_hook is not None:
                d["fromHook"] = e.from_hook
        case BranchSummaryEntry():
            d["fromId"] = e.from_id
            d["summary"] = e.summary
            if e.details is not None:
                d["details"] = e.details
            if e.from_hook is not None:
                d["fromHook"] = e.from_hook
        case CustomEntry():
            d["customType"] = e.custom_type
            if e.data is not None:
                d["data"] = e.data
        case CustomMessageEntry():
            d["customType"] = e.custom_type
            d["content"] = _custom_content_to_json(e.content)
            d["display"] = e.display
            if e.details is not None:
                d["details"] = e.details
        case LabelEntry():
            d["targetId"] = e.target_id
            if e.label is not None:
                d["label"] = e.label
        case SessionInfoEntry():
            if e.name is not None:
                d["name"] = e.name
        case LeafEntry():
            d["targetId"] = e.target_id
    d.update(e.extra)
    return d


def entry_to_line(e: Entry) -> bytes:
    """The entry as one JSONL line, newline included (safe for any text; see jsonio)."""
    return dumps_bytes(entry_to_json(e)) + b"\n"


# ---------------------------------------------------------------------------------------------
# from JSON


class _Reader:
    """Takes typed fields out of a dict; what is not taken (or has the wrong type) stays extra."""

    def __init__(self, d: Mapping[str, JsonValue]) -> None:
        self.rest: dict[str, JsonValue] = dict(d)

    @property
    def extra(self) -> _Extra:
        """What was not taken (read it last): the shared empty mapping when nothing is left."""
        return self.rest if self.rest else _EMPTY

    def str_(self, key: str, default: str = "") -> str:
        v = self.rest.get(key)
        if isinstance(v, str):
            del self.rest[key]
            return v
        return default

    def opt_str(self, key: str) -> str | None:
        v = self.rest.get(key)
        if isinstance(v, str):
            del self.rest[key]
            return v
        return None

    def int_(self, key: str) -> int:
        v = self.rest.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            del self.rest[key]
            return v
        return 0

    def bool_(self, key: str, default: bool) -> bool:
        v = self.rest.get(key)
        if isinstance(v, bool):
            del self.rest[key]
            return v
        return default

    def opt_bool(self, key: str) -> bool | None:
        v = self.rest.get(key)
        if isinstance(v, bool):
            del self.rest[key]
            return v
        return None

    def any_(self, key: str) -> JsonValue:
        """Any non-null value; an explicit null stays in extra so it is written back."""
        v = self.rest.get(key)
        if v is not None:
            del self.rest[key]
        return v


def header_from_json(d: JsonValue) -> SessionHeader | EntryError:
    """A header dict -> :class:`SessionHeader`; a missing ``version`` means pi v1."""
    if not isinstance(d, dict) or d.get("type") != "session":
        return EntryError("first line is not a session header")
    r = _Reader(d)
    del r.rest["type"]
    sid = r.str_("id")
    if not sid:
        return EntryError("session header has no id")
    version = 1
    v = r.rest.get("version")
    if isinstance(v, int) and not isinstance(v, bool):
        version = v
        del r.rest["version"]
    elif "version" in r.rest:
        return EntryError(f"session header has a bad version: {v!r}")
    ts = r.str_("timestamp")
    cwd = r.str_("cwd")
    parent = r.opt_str("parentSession")
    return SessionHeader(sid, ts, cwd, version, parent, r.rest)


def _custom_content_from_json(raw: JsonValue) -> str | tuple[UserContent, ...]:
    if isinstance(raw, str):
        return raw
    out: list[UserContent] = []
    for item in raw if isinstance(raw, list) else []:
        c = content_from_json(item)
        if isinstance(c, TextContent | ImageContent):
            out.append(c)
    return tuple(out)


def parse_entry(d: JsonValue, *, keep_shape: bool = True) -> Entry | EntryError:
    """A v3 entry dict -> an :class:`Entry`; never raises.

    ``keep_shape=False``: a message entry does not keep its stored JSON when writing it back
    would differ (``MessageEntry.message_json``); for readers that never write it back.
    """
    if not isinstance(d, dict):
        return EntryError("entry is not a JSON object")
    kind, eid = d.get("type"), d.get("id")
    if not isinstance(kind, str) or not kind:
        return EntryError("entry has no type")
    if kind == "session":
        return EntryError("a second session header")
    if not isinstance(eid, str) or not eid:
        return EntryError(f"{kind} entry has no id")
    parent = d.get("parentId")
    r = _Reader(d)
    for key in _COMMON:
        r.rest.pop(key, None)
    if parent is not None and not isinstance(parent, str):
        r.rest["parentId"] = parent  # keep the odd value, treat the entry as a root
        parent = None
    ts = d.get("timestamp")
    if not isinstance(ts, str):
        if "timestamp" in d:
            r.rest["timestamp"] = ts
        ts = ""
    try:
        return _parse_body(kind, eid, parent, ts, r, keep_shape)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        return EntryError(f"{kind} entry {eid}: {exc}")


def _parse_body(
    kind: str, eid: str, parent: str | None, ts: str, r: _Reader, keep_shape: bool
) -> Entry | EntryError:
    match kind:
        case "message":
            raw = r.rest.get("message")
            if not isinstance(raw, dict):
                return EntryError(f"message entry {eid} has no message")
            message = agent_message_from_json(raw)
            del r.rest["message"]
            # Keep the stored shape only when writing the message back would change it
            # (a file from pi or a newer version); otherwise it would double the memory.
            # Readers that never write the entry back (the context) skip the comparison.
            stored = None
            if keep_shape and dumps_bytes(agent_message_to_json(message)) != dumps_bytes(raw):
                stored = raw
            return MessageEntry(eid, parent, ts, message, r.extra, stored)
        case "model_change":
            return ModelChangeEntry(eid, parent, ts, r.str_("provider"), r.str_("modelId"), r.extra)
        case "thinking_level_change":
            return ThinkingLevelChangeEntry(eid, parent, ts, r.str_("thinkingLevel"), r.extra)
        case "compaction":
            return CompactionEntry(
                eid, parent, ts, r.str_("summary"), r.str_("firstKeptEntryId"), r.int_("tokensBefore"),
                r.any_("details"), r.opt_bool("fromHook"), r.extra,
            )  # fmt: skip
        case "branch_summary":
            return BranchSummaryEntry(
                eid, parent, ts, r.str_("fromId"), r.str_("summary"), r.any_("details"), r.opt_bool("fromHook"),
                r.extra,
            )  # fmt: skip
        case "custom":
            return CustomEntry(eid, parent, ts, r.str_("customType"), r.any_("data"), r.extra)
        case "custom_message":
            custom_type = r.str_("customType")
            content = _custom_content_from_json(r.rest.pop("content", ""))
            display = r.bool_("display", True)
            return CustomMessageEntry(
                eid, parent, ts, custom_type, content, display, r.any_("details"), r.extra
            )
        case "label":
            return LabelEntry(eid, parent, ts, r.str_("targetId"), r.opt_str("label"), r.extra)
        case "session_info":
            return SessionInfoEntry(eid, parent, ts, r.opt_str("name"), r.extra)
        case "leaf":
            target = r.rest.get("targetId")
            if target is not None and not isinstance(target, str):
                return EntryError(f"leaf entry {eid} has a bad targetId")
            r.rest.pop("targetId", None)
            return LeafEntry(eid, parent, ts, target, r.extra)
    return UnknownEntry(kind, eid, parent, ts, r.extra)


def _loads_line(line: bytes | str) -> JsonValue | EntryError:
    text = line.strip()
    if not text:
        return EntryError("blank line")
    try:
        return loads(text)
    except ValueError as exc:
        return EntryError(f"not JSON: {exc}")
    except RecursionError:
        return EntryError("not JSON: nested too deeply")


def parse_entry_line(line: bytes | str, *, keep_shape: bool = True) -> Entry | EntryError:
    """One JSONL line -> an entry, or the reason it is not one (``keep_shape``: see :func:`parse_entry`)."""
    value = _loads_line(line)
    return value if isinstance(value, EntryError) else parse_entry(value, keep_shape=keep_shape)


def parse_header_line(line: bytes | str) -> SessionHeader | EntryError:
    """The first line of a file -> its header, or the reason it is not one."""
    value = _loads_line(line)
    return value if isinstance(value, EntryError) else header_from_json(value)
