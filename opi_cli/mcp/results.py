"""MCP content → what the model reads: tool results, prompt messages and resource contents.

Text stays text and images stay images; an embedded text resource becomes a ``<resource>``
block, a binary one an image when it is an image and a one-line note otherwise; a resource
link and audio become a line saying what they are. ``structuredContent`` is kept in the
result's details and, when the server sent no text, given to the model as JSON text (the
spec asks servers to send both; not all do). ``isError`` marks the result as an error.
"""

from __future__ import annotations

import base64
import binascii

from opi_cli._util.jsonio import JsonValue, dumps
from opi_cli.agent.tool import ToolResult
from opi_cli.ai.types import ImageContent, TextContent

__all__ = ["Block", "content_blocks", "resource_blocks", "split_blocks", "tool_result"]

Block = TextContent | ImageContent
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def _size(data: str) -> str:
    try:
        n = len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        n = len(data) * 3 // 4
    return f"{n} bytes"


def resource_blocks(resource: JsonValue) -> list[Block]:
    """One embedded resource (``{uri, mimeType?, text | blob}``) as content blocks."""
    if not isinstance(resource, dict):
        return []
    uri = str(resource.get("uri", ""))
    mime = str(resource.get("mimeType") or "")
    text = resource.get("text")
    if isinstance(text, str):
        kind = f' mimeType="{mime}"' if mime else ""
        return [TextContent(f'<resource uri="{uri}"{kind}>\n{text}\n</resource>')]
    blob = resource.get("blob")
    if isinstance(blob, str):
        if mime in _IMAGE_TYPES:
            return [TextContent(f'<resource uri="{uri}" mimeType="{mime}"></resource>'), ImageContent(blob, mime)]
        return [TextContent(f"[binary resource {uri} ({mime or 'unknown type'}, {_size(blob)}) not shown]")]
    return [TextContent(f"[resource {uri} without contents]")]


def content_blocks(items: JsonValue) -> list[Block]:
    """A list of MCP content items (tool results and prompt messages share the format)."""
    out: list[Block] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            out.append(TextContent(str(item.get("text", ""))))
        elif kind == "image" and isinstance(item.get("data"), str):
            out.append(ImageContent(str(item["data"]), str(item.get("mimeType") or "image/png")))
        elif kind == "audio":
            out.append(TextContent(f"[audio ({item.get('mimeType') or 'unknown type'}, "
                                   f"{_size(str(item.get('data', '')))}) not shown]"))
        elif kind == "resource":
            out.extend(resource_blocks(item.get("resource")))
        elif kind == "resource_link":
            name = item.get("name") or item.get("title") or ""
            desc = f": {item['description']}" if item.get("description") else ""
            out.append(TextContent(f"[resource link {name} <{item.get('uri', '')}>{desc}]".replace("  ", " ")))
        else:
            out.append(TextContent(f"[unsupported content type {kind!r}]"))
    return out


def tool_result(result: JsonValue, server: str, tool: str) -> ToolResult:
    """A ``tools/call`` result as a :class:`ToolResult` (details: server, tool, structuredContent)."""
    data = result if isinstance(result, dict) else {}
    blocks = content_blocks(data.get("content"))
    structured = data.get("structuredContent")
    details: dict[str, JsonValue] = {"server": server, "tool": tool}
    if structured is not None:
        details["structuredContent"] = structured
        if not any(isinstance(b, TextContent) and b.text for b in blocks):
            blocks.append(TextContent(dumps(structured)))
    if not blocks:
        blocks.append(TextContent("(no output)"))
    return ToolResult(tuple(blocks), details, bool(data.get("isError")))


def split_blocks(blocks: list[Block]) -> tuple[str, list[ImageContent]]:
    """(the text blocks joined by blank lines, the images) — for a prompt made of blocks."""
    text = "\n\n".join(b.text for b in blocks if isinstance(b, TextContent))
    return text, [b for b in blocks if isinstance(b, ImageContent)]
