"""Where MCP servers are configured, which of them may start, and editing those files.

Servers come from three files, in Claude Code's ``mcpServers`` format: ``OPI_HOME/settings.json``
(scope ``user``), the project's ``.mcp.json`` (scope ``project``, shared with Claude Code)
and ``.opi/settings.json`` (scope ``local``); on a name clash local wins over project over
user. A cloned repository must not start programs on its own, so servers from the two
project files start only once approved: by answering the REPL's question (remembered per
folder in ``OPI_HOME/mcp-approvals.json`` together with a fingerprint of the entry, so a
changed entry is asked about again), by ``opi mcp approve NAME``, or by the user settings
``enableAllProjectMcpServers`` / ``enabledMcpjsonServers`` / ``disabledMcpjsonServers``.
Those three keys are read from ``OPI_HOME/settings.json`` only: a project cannot approve
itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from opi_cli._util.atomic import replace_file
from opi_cli._util.records import record
from opi_cli.cli.settings import Settings, load_json_file
from opi_cli.errors import ConfigError

__all__ = [
    "Approval",
    "ConfiguredServer",
    "Scope",
    "approval_of",
    "configured_servers",
    "edit_servers",
    "mcp_timeouts",
    "record_approval",
    "scope_file",
]

Scope = Literal["user", "project", "local"]
Approval = Literal["approved", "denied", "ask"]
_ORDER: tuple[Scope, ...] = ("user", "project", "local")  # later wins


@record
class ConfiguredServer:
    """One ``mcpServers`` entry as written, with where it came from."""

    name: str
    raw: Any
    scope: Scope
    path: Path

    @property
    def fingerprint(self) -> str:
        """Changes whenever the entry does (an approval is for this exact entry)."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()[:16]


def scope_file(settings: Settings, scope: Scope) -> Path:
    """The file that holds the servers of ``scope``."""
    if scope == "user":
        return settings.home / "settings.json"
    if scope == "project":
        return settings.cwd / ".mcp.json"
    return settings.cwd / ".opi" / "settings.json"


def _entries(path: Path) -> dict[str, Any]:
    loaded = load_json_file(path)
    servers = (loaded or {}).get("mcpServers")
    if servers is None:
        return {}
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: mcpServers must be an object of servers by name")
    return servers


def configured_servers(settings: Settings) -> tuple[list[ConfiguredServer], list[str]]:
    """(the servers in effect, one warning per project file that could not be read).

    A malformed ``.mcp.json`` belongs to the repository, not to the user: it is skipped
    with a warning instead of stopping opi. The settings files were already checked by
    :func:`~opi_cli.cli.settings.load_settings`.
    """
    found: dict[str, ConfiguredServer] = {}
    warnings: list[str] = []
    in_settings = "mcpServers" in settings.values
    for scope in _ORDER:
        path = scope_file(settings, scope)
        if scope != "project" and not in_settings:
            continue
        try:
            entries = _entries(path)
        except ConfigError as exc:
            if scope != "project":
                raise
            warnings.append(f"{exc} (its MCP servers were not started)")
            continue
        for name, raw in entries.items():
            found[name] = ConfiguredServer(name, raw, scope, path)
    return list(found.values()), warnings


def _approvals_path(settings: Settings) -> Path:
    return settings.home / "mcp-approvals.json"


def _approvals(settings: Settings) -> dict[str, Any]:
    try:
        data = load_json_file(_approvals_path(settings)) or {}
    except ConfigError:
        return {}  # a damaged approvals file means "ask again", never "allowed"
    projects = data.get("projects")
    return projects if isinstance(projects, dict) else {}


def approval_of(settings: Settings, server: ConfiguredServer) -> Approval:
    """Whether ``server`` may start (user servers always may)."""
    if server.scope == "user":
        return "approved"
    user = load_json_file(settings.home / "settings.json") or {}
    if server.name in (user.get("disabledMcpjsonServers") or []):
        return "denied"
    if user.get("enableAllProjectMcpServers") is True or server.name in (user.get("enabledMcpjsonServers") or []):
        return "approved"
    entry = _approvals(settings).get(str(settings.cwd), {}).get(server.name)
    if isinstance(entry, dict) and entry.get("fingerprint") == server.fingerprint:
        return "approved" if entry.get("approved") is True else "denied"
    return "ask"


def record_approval(settings: Settings, server: ConfiguredServer, approved: bool) -> None:
    """Remember the user's answer for this folder and this exact entry."""
    path = _approvals_path(settings)
    try:
        data = load_json_file(path) or {}
    except ConfigError:
        data = {}  # only ever holds our own answers: a damaged one is rewritten
    projects = data.setdefault("projects", {})
    if not isinstance(projects, dict):
        projects = data["projects"] = {}
    projects.setdefault(str(settings.cwd), {})[server.name] = {
        "approved": approved, "fingerprint": server.fingerprint,
    }
    _write_json(path, data, mode=0o600)


def mcp_timeouts(settings: Settings) -> tuple[float, float, float]:
    """(startup wait, per-call timeout, one start attempt) in seconds, from the ``mcp`` settings
    (their types were checked with the settings file)."""
    section = settings.section("mcp")
    return (float(section.get("startupWaitMs", 5000)) / 1000, float(section.get("toolTimeoutMs", 120000)) / 1000,
            float(section.get("connectTimeoutMs", 30000)) / 1000)


def edit_servers(path: Path, change: Any, *, mode: int) -> None:
    """Read ``path``, let ``change(servers)`` edit its ``mcpServers`` object, write it back.

    Every other key is kept as it was. A malformed file is never overwritten, and a file
    with comments or trailing commas (which rewriting would drop) is left alone too.

    Raises:
        ConfigError: the file is malformed or has comments (nothing is written).
    """
    data = load_json_file(path)
    if data is None:
        data = {}
    elif not _is_plain(path.read_text(encoding="utf-8")):
        raise ConfigError(
                f"{path} has comments or trailing commas, which rewriting it would lose; "
                "edit its mcpServers by hand (it was not changed)"
            )
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: mcpServers must be an object (it was not changed)")
    change(servers)
    _write_json(path, data, mode=mode)


def _is_plain(text: str) -> bool:
    """Plain JSON (or empty), as opposed to JSONC that the settings reader also accepts."""
    if not text.strip():
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _write_json(path: Path, data: Any, *, mode: int) -> None:
    """Replace ``path`` atomically (a crash leaves the old file or the new one); a new file gets ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # created empty first, so that it is born with ``mode``
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    replace_file(str(path), (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
