"""The trust settings of a run: approval mode, permission rules, sandbox, rewind snapshots, cost ceiling.

Reads ``--approval``/``defaultApproval``, ``permissions {allow, ask, deny}``,
``--sandbox``/``sandbox`` and ``--max-cost``/``maxCostUsd``, checks them (a bad value is
a :class:`ConfigError` naming the file, exit 2), and builds the pieces the runtime wires
into the agent: the permission gate, the snapshot recorder and the cost ceiling, as one
hook layer. Rules are read from the user's and the project's settings file separately and
added up (the settings merge would let a project's list replace the user's deny rules).
"always allow" answers are saved to the project's ``.opi/settings.json`` without touching
its other keys, and never into a file that is malformed or has comments.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from opi_cli.agent.cost_ceiling import CostCeiling
from opi_cli.agent.hooks import AgentHooks, compose_hooks
from opi_cli.agent.tool import Tool
from opi_cli.cli.options import RunOptions
from opi_cli.cli.settings import Settings, load_json_file
from opi_cli.errors import ConfigError, UsageError
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.snapshots import DirBlobStore, MemoryBlobStore, SnapshotRecorder
from opi_cli.tools import BashTool, LocalFileOps, LocalShellOps
from opi_cli.tools.paths import changed_paths
from opi_cli.tools.permission_gate import PermissionGate
from opi_cli.tools.permission_rules import Rule, parse_rule
from opi_cli.tools.permissions import APPROVAL_MODES, ApprovalMode, PermissionPolicy, PermissionRules
from opi_cli.tools.sandbox import (
    SANDBOX_MODES,
    SandboxedShellOps,
    SandboxMode,
    SandboxStatus,
    probe_sandbox,
    temp_dirs,
)

__all__ = ["Trust", "build_trust", "check_trust_settings", "load_rules", "save_allow_rules"]


@dataclass(slots=True)
class Trust:
    """The trust pieces of one run (see the module docstring)."""

    policy: PermissionPolicy
    gate: PermissionGate
    recorder: SnapshotRecorder
    ceiling: CostCeiling | None
    sandbox: SandboxStatus

    def hooks(self) -> AgentHooks:
        """Gate first (a refused call gets no snapshot), then snapshots, then the ceiling."""
        return compose_hooks(self.gate.hooks(), self.recorder.hooks(), self.ceiling.hooks() if self.ceiling else None)

    def attach(self, session: AgentSession) -> None:
        """Bind to the running session: snapshots go to its file, denials and spend to its events."""
        self.recorder.attach(session)
        self.gate.on_denied = session.emit
        if self.ceiling is not None:
            session.subscribe(self.ceiling.observe)

    @property
    def notice(self) -> str | None:
        """The one line to show at start when the requested sandbox cannot run."""
        return None if self.sandbox.available else self.sandbox.describe()


def _choice(value: object, allowed: tuple[str, ...], what: str, where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}: {what} must be one of {', '.join(allowed)} (got {value!r})")
    return value  # type: ignore[return-value]


def approval_mode(opts: RunOptions, settings: Settings, *, interactive: bool) -> ApprovalMode:
    if opts.approval is not None:
        if opts.approval not in APPROVAL_MODES:
            raise UsageError(f"Unknown --approval {opts.approval!r}. Use one of: {', '.join(APPROVAL_MODES)}.")
        return opts.approval
    value = settings.get("defaultApproval")
    if value is None:
        return "auto" if interactive else "yolo"
    return cast(ApprovalMode, _choice(value, APPROVAL_MODES, "defaultApproval", "settings"))


def sandbox_mode(opts: RunOptions, settings: Settings) -> SandboxMode:
    if opts.sandbox is not None:
        if opts.sandbox not in SANDBOX_MODES:
            raise UsageError(f"Unknown --sandbox {opts.sandbox!r}. Use one of: {', '.join(SANDBOX_MODES)}.")
        return opts.sandbox
    return cast(SandboxMode, _choice(settings.get("sandbox", "off"), SANDBOX_MODES, "sandbox", "settings"))


def max_cost(opts: RunOptions, settings: Settings) -> float | None:
    if opts.max_cost is not None:
        if not opts.max_cost > 0:
            raise UsageError(f"--max-cost must be a positive number of US dollars (got {opts.max_cost}).")
        return opts.max_cost
    value = settings.get("maxCostUsd")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"settings: maxCostUsd must be a positive number of US dollars (got {value!r})")
    return float(value)


def _rules_of(data: Mapping[str, Any], path: Path, base: str | None) -> dict[str, list[Rule]]:
    out: dict[str, list[Rule]] = {"allow": [], "ask": [], "deny": []}
    perms = data.get("permissions")
    if perms is None:
        return out
    if not isinstance(perms, dict):
        raise ConfigError(f"{path}: permissions must be an object with allow, ask and deny lists")
    for kind in out:
        texts = perms.get(kind, [])
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ConfigError(f"{path}: permissions.{kind} must be a list of rule strings")
        for text in texts:
            try:
                out[kind].append(parse_rule(text, source=str(path), base=base))
            except ValueError as exc:
                raise ConfigError(f"{path}: permissions.{kind}: {exc}") from exc
    return out


def load_rules(settings: Settings) -> PermissionRules:
    """The rules of the user's and the project's settings, added up (see the module docstring).

    Raises:
        ConfigError: a rule or the ``permissions`` shape is malformed (names the file).
    """
    merged: dict[str, list[Rule]] = {"allow": [], "ask": [], "deny": []}
    for path, base in ((settings.home / "settings.json", None), (settings.cwd / ".opi" / "settings.json", str(settings.cwd))):
        data = load_json_file(path)
        if data:
            for kind, rules in _rules_of(data, path, base).items():
                merged[kind].extend(rules)
    return PermissionRules(tuple(merged["allow"]), tuple(merged["ask"]), tuple(merged["deny"]))


def save_allow_rules(cwd: Path, texts: tuple[str, ...]) -> Path:
    """Add ``texts`` to ``permissions.allow`` of ``cwd/.opi/settings.json``; returns the file.

    Raises:
        ConfigError: the file is malformed or has comments (it is left as it is).
    """
    path = cwd / ".opi" / "settings.json"
    data = load_json_file(path) or {}
    if data:
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError:  # JSONC (comments, trailing commas): rewriting would lose them
            raise ConfigError(f"{path} has comments, which rewriting would lose: add {', '.join(texts)} "
                              "to permissions.allow by hand") from None
    perms = data.setdefault("permissions", {})
    if not isinstance(perms, dict) or not isinstance(perms.setdefault("allow", []), list):
        raise ConfigError(f"{path}: permissions.allow is not a list; the rule was not saved")
    allow = perms["allow"]
    allow.extend(t for t in texts if t not in allow)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def check_trust_settings(opts: RunOptions, settings: Settings) -> None:
    """Raise the error a bad trust option or setting would cause, before anything else runs."""
    approval_mode(opts, settings, interactive=bool(opts.interactive))
    sandbox_mode(opts, settings)
    max_cost(opts, settings)
    load_rules(settings)


async def build_trust(
    opts: RunOptions, settings: Settings, tools: dict[str, Tool], *, interactive: bool, persistent: bool
) -> Trust:
    """Read and check the trust settings, put bash in its sandbox (in ``tools``), build the layers.

    Args:
        opts: the command-line options.
        settings: the merged settings.
        tools: the active tools; ``bash`` is replaced by a sandboxed one when asked for.
        interactive: the REPL (changes the default approval mode).
        persistent: sessions are kept (snapshots without a session file go under OPI_HOME).
    """
    mode = approval_mode(opts, settings, interactive=interactive)
    rules = load_rules(settings)
    ceiling_usd = max_cost(opts, settings)
    requested = sandbox_mode(opts, settings)
    cwd = str(settings.cwd)
    status = SandboxStatus("off", True)
    if requested != "off" and "bash" in tools:
        status = await probe_sandbox(requested, cwd)
        shell = SandboxedShellOps(LocalShellOps(), status, cwd=cwd, writable=temp_dirs())
        tools["bash"] = BashTool(cwd, LocalFileOps(), shell)
    home = settings.env.get("HOME") or str(Path.home())
    policy = PermissionPolicy(mode, rules, cwd=cwd, home=home, temp_dirs=temp_dirs())
    gate = PermissionGate(policy, None, file_ops=LocalFileOps())
    fallback = DirBlobStore(settings.home / "file-snapshots") if persistent else MemoryBlobStore()
    recorder = SnapshotRecorder(lambda tool, args: changed_paths(tool, args, cwd, home), fallback)
    ceiling = CostCeiling(ceiling_usd) if ceiling_usd is not None else None
    return Trust(policy, gate, recorder, ceiling, status)
