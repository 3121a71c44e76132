"""MCP server entries in Claude Code's ``mcpServers`` format, checked and with ``${VAR}`` expanded.

An entry is ``{"type": "stdio", "command", "args", "env", "cwd"}`` or ``{"type": "http" |
"sse", "url", "headers"}``; ``type`` defaults to ``stdio`` when there is a ``command`` and
to ``http`` when there is a ``url``. ``${VAR}`` and ``${VAR:-default}`` are expanded in
``command``, ``args``, ``env``, ``cwd``, ``url`` and ``headers`` from the mapping given
(a bare ``$VAR`` is left alone, as Claude Code does); a variable that is unset and has no
default is an error naming it. opi also reads ``toolTimeoutMs`` (this server's per-call
timeout). Nothing here reads files or the process environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Literal

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.errors import ConfigError

__all__ = ["McpServerConfig", "ServerKind", "expand_vars", "parse_server"]

ServerKind = Literal["stdio", "http", "sse"]
_KINDS: dict[str, ServerKind] = {
    "stdio": "stdio", "http": "http", "streamable-http": "http", "streamableHttp": "http", "sse": "sse",
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@record
class McpServerConfig:
    """One server, ready to start.

    Attributes:
        name: the key under ``mcpServers``.
        kind: ``stdio``, ``http`` (streamable HTTP) or ``sse``.
        command/args/env/cwd: how to start a stdio server (``env`` adds to the inherited one).
        url/headers: where an HTTP or SSE server is.
        tool_timeout_s: this server's per-call timeout (None: the global one).
        source: the file it came from (for messages).
    """

    name: str
    kind: ServerKind
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    tool_timeout_s: float | None = None
    source: str = ""

    @property
    def target(self) -> str:
        """What it runs or where it is, for listings."""
        return " ".join([self.command, *self.args]) if self.kind == "stdio" else self.url


def expand_vars(text: str, env: Mapping[str, str], where: str) -> str:
    """``text`` with ``${VAR}`` / ``${VAR:-default}`` replaced from ``env``.

    Raises:
        ConfigError: a variable without a default is not set (``where`` names the field).
    """

    def one(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is not None:  # set but empty
            return value
        raise ConfigError(f"{where}: ${{{name}}} is not set (set it, or write ${{{name}:-default}})")

    return _VAR.sub(one, text)


def _text(raw: JsonValue, where: str) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ConfigError(f"{where}: expected a string, got {type(raw).__name__}")
    return str(raw)


def _strings(raw: JsonValue, where: str, env: Mapping[str, str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(expand_vars(_text(x, f"{where}[{i}]"), env, f"{where}[{i}]") for i, x in enumerate(raw))


def _mapping(raw: JsonValue, where: str, env: Mapping[str, str]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object of strings")
    return {str(k): expand_vars(_text(v, f"{where}.{k}"), env, f"{where}.{k}") for k, v in raw.items()}


def _timeout(raw: JsonValue, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise ConfigError(f"{where}: expected a positive number of milliseconds")
    return float(raw) / 1000


def parse_server(
    name: str, raw: JsonValue, *, env: Mapping[str, str], source: str = "", base_dir: Path | None = None
) -> McpServerConfig:
    """Check and expand one ``mcpServers`` entry.

    Args:
        name: its key.
        raw: its value.
        env: where ``${VAR}`` is looked up.
        source: the file it came from (the error messages start with it).
        base_dir: what a relative ``cwd`` is relative to.

    Raises:
        ConfigError: one line naming the file, the server and the field.
    """
    where = f"{source}: mcpServers.{name}" if source else f"mcpServers.{name}"
    if not name.strip():
        raise ConfigError(f"{where}: a server needs a non-empty name")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object with a command or a url")
    declared = raw.get("type")
    if declared is not None and declared not in _KINDS:
        raise ConfigError(f"{where}.type: unknown type {declared!r} (use stdio, http or sse)")
    kind: ServerKind = _KINDS[declared] if isinstance(declared, str) else ("stdio" if "command" in raw else "http")
    timeout = _timeout(raw.get("toolTimeoutMs"), f"{where}.toolTimeoutMs")
    if kind == "stdio":
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"{where}.command: a stdio server needs a command (a program name or path)")
        cwd_raw = raw.get("cwd")
        cwd = expand_vars(_text(cwd_raw, f"{where}.cwd"), env, f"{where}.cwd") if cwd_raw is not None else None
        if cwd is not None:
            path = Path(cwd).expanduser()
            cwd = str(path if path.is_absolute() or base_dir is None else base_dir / path)
        return McpServerConfig(
            name, kind, command=expand_vars(command, env, f"{where}.command"),
            args=_strings(raw.get("args"), f"{where}.args", env), env=_mapping(raw.get("env"), f"{where}.env", env),
            cwd=cwd, tool_timeout_s=timeout, source=source,
        )
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{where}.url: an {kind} server needs a url")
    url = expand_vars(url, env, f"{where}.url").strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url: expected an http:// or https:// URL, got {url!r}")
    return McpServerConfig(
        name, kind, url=url, headers=_mapping(raw.get("headers"), f"{where}.headers", env),
        tool_timeout_s=timeout, source=source,
    )
