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
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from opi_cli._util.atomic import replace_file
from opi_cli._util.records import record
from opi_cli.agent.cost_ceiling import CostCeiling
from opi_cli.agent.hooks import AgentHooks, compose_hooks
from opi_cli.agent.tool import Tool
from opi_cli.cli.options import RunOptions
from opi_cli.cli.project_overrides import (
    APPROVAL_ORDER,
    SANDBOX_ORDER,
    ProjectOverrides,
    mode_keys,
    remember_allow_rules,
)
from opi_cli.cli.settings import Settings, load_json_file
from opi_cli.errors import ConfigError, UsageError
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.snapshots import DirBlobStore, MemoryBlobStore, SnapshotRecorder
from opi_cli.tools.paths import changed_paths
from opi_cli.tools.trust_modes import APPROVAL_MODES, SANDBOX_MODES, ApprovalMode, SandboxMode

if TYPE_CHECKING:
    from opi_cli.tools.permission_gate import PermissionGate
    from opi_cli.tools.permissions import PermissionRules
    from opi_cli.tools.sandbox import SandboxStatus

__all__ = ["Trust", "build_trust", "check_trust_settings", "load_rules", "save_allow_rules"]


@record(frozen=False)
class Trust:
    """The trust pieces of one run (see the module docstring).

    ``gate`` is None in ``yolo`` mode without rules (nothing to check: a plain ``-p`` run
    loads none of it), ``sandbox`` None when bash runs without one, ``ceiling`` None
    without ``--max-cost``.
    """

    mode: ApprovalMode
    recorder: SnapshotRecorder
    gate: PermissionGate | None = None
    ceiling: CostCeiling | None = None
    sandbox: SandboxStatus | None = None
    warnings: list[str] = field(default_factory=list)  # e.g. a project's settings that were ignored

    def hooks(self) -> AgentHooks:
        """Gate first (a refused call gets no snapshot), then snapshots, then the ceiling."""
        return compose_hooks(self.gate.hooks() if self.gate else None, self.recorder.hooks(),
                             self.ceiling.hooks() if self.ceiling else None)

    def attach(self, session: AgentSession) -> None:
        """Bind to the running session: snapshots go to its file, denials and spend to its events."""
        self.recorder.attach(session)
        if self.gate is not None:
            self.gate.on_denied = session.emit
        if self.ceiling is not None:
            session.subscribe(self.ceiling.observe)

    def report_to(self, notify: Callable[[str], None]) -> None:
        """Say the warnings with ``notify``, and later a rewind snapshot that could not be stored."""
        self.recorder.on_error = notify
        for message in self.warnings:
            notify(message)

    @property
    def notice(self) -> str | None:
        """The one line to show at start when the requested sandbox cannot run."""
        return None if self.sandbox is None or self.sandbox.available else self.sandbox.describe()


def approval_mode(opts: RunOptions, settings: Settings, *, interactive: bool) -> ApprovalMode:
    """``--approval``, else ``defaultApproval`` (checked by the settings schema), else by front end."""
    if opts.approval is not None:
        if opts.approval not in APPROVAL_MODES:
            raise UsageError(f"Unknown --approval {opts.approval!r}. Use one of: {', '.join(APPROVAL_MODES)}.")
        return opts.approval
    default = "auto" if interactive else "yolo"
    return cast(ApprovalMode, ProjectOverrides.read(settings).mode("defaultApproval", default, APPROVAL_ORDER))


def sandbox_mode(opts: RunOptions, settings: Settings) -> SandboxMode:
    """``--sandbox``, else the ``sandbox`` setting (checked by the settings schema), else off."""
    if opts.sandbox is not None:
        if opts.sandbox not in SANDBOX_MODES:
            raise UsageError(f"Unknown --sandbox {opts.sandbox!r}. Use one of: {', '.join(SANDBOX_MODES)}.")
        return opts.sandbox
    return cast(SandboxMode, ProjectOverrides.read(settings).mode("sandbox", "off", SANDBOX_ORDER))


def max_cost(opts: RunOptions, settings: Settings) -> float | None:
    """``--max-cost``, else ``maxCostUsd`` (a positive number, checked by the settings schema)."""
    if opts.max_cost is not None:
        if not opts.max_cost > 0:
            raise UsageError(f"--max-cost must be a positive number of US dollars (got {opts.max_cost}).")
        return opts.max_cost
    value = settings.get("maxCostUsd")
    return None if value is None else float(value)


_KINDS = ("allow", "ask", "deny")


def _rule_texts(settings: Settings) -> list[tuple[str, str, Path, str | None]]:
    """(kind, text, file, base folder) of every rule in the user's and the project's file
    (their shape was checked against the settings schema when the settings were loaded); a
    project's ``allow`` rules only where they apply (:class:`ProjectOverrides`)."""
    found: list[tuple[str, str, Path, str | None]] = []
    files = ProjectOverrides.read(settings)
    for path, values, base in ((settings.home / "settings.json", files.user, None),
                               (files.path, files.project, str(settings.cwd))):
        perms = values.get("permissions") or {}
        for kind in _KINDS:
            texts = files.allow_rules() if kind == "allow" and base is not None else perms.get(kind, [])
            found += [(kind, t, path, base) for t in texts]
    return found


def load_rules(settings: Settings) -> PermissionRules:
    """The rules of the user's and the project's settings, added up (see the module docstring).

    Raises:
        ConfigError: a rule or the ``permissions`` shape is malformed (names the file).
    """
    from opi_cli.tools.permission_rules import parse_rule  # only runs that have rules pay for the parser
    from opi_cli.tools.permissions import PermissionRules

    merged: dict[str, list[Any]] = {k: [] for k in _KINDS}
    for kind, text, path, base in _rule_texts(settings):
        try:
            merged[kind].append(parse_rule(text, source=str(path), base=base))
        except ValueError as exc:
            raise ConfigError(f"{path}: permissions.{kind}: {exc}") from exc
    return PermissionRules(tuple(merged["allow"]), tuple(merged["ask"]), tuple(merged["deny"]))


def save_allow_rules(cwd: Path, texts: tuple[str, ...], home: Path | None = None) -> Path:
    """Add ``texts`` to ``permissions.allow`` of ``cwd/.opi/settings.json``; returns the file.
    With ``home`` (OPI_HOME), the user's saving them is remembered there too, so they apply
    in this folder without trusting it (see :mod:`opi_cli.cli.project_overrides`).

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
    replace_file(str(path), (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    if home is not None:
        remember_allow_rules(home, cwd, texts)
    return path


def check_trust_settings(opts: RunOptions, settings: Settings) -> None:
    """Raise the error a bad trust option or setting would cause, before anything else runs."""
    approval_mode(opts, settings, interactive=bool(opts.interactive))
    sandbox_mode(opts, settings)
    max_cost(opts, settings)
    if _rule_texts(settings):
        load_rules(settings)


async def build_trust(
    opts: RunOptions, settings: Settings, tools: dict[str, Tool], *, interactive: bool, persistent: bool,
    readable: Sequence[str] = (),
) -> Trust:
    """Read and check the trust settings, put bash in its sandbox (in ``tools``), build the layers.

    Args:
        opts: the command-line options.
        settings: the merged settings.
        tools: the active tools; ``bash`` is replaced by a sandboxed one when asked for.
        interactive: the REPL (changes the default approval mode).
        persistent: sessions are kept (snapshots without a session file go under OPI_HOME).
        readable: folders the read tools may read without asking (the skills' folders).
    """
    cwd = str(settings.cwd)
    home = settings.env.get("HOME") or str(Path.home())
    fallback = DirBlobStore(settings.home / "file-snapshots") if persistent else MemoryBlobStore()
    trust = Trust(
        approval_mode(opts, settings, interactive=interactive),
        SnapshotRecorder(lambda tool, args: changed_paths(tool, args, cwd, home), fallback),
    )
    ceiling_usd = max_cost(opts, settings)
    if ceiling_usd is not None:
        trust.ceiling = CostCeiling(ceiling_usd)
    requested = sandbox_mode(opts, settings)
    if requested != "off" and "bash" in tools:
        trust.sandbox = await _sandbox_bash(requested, cwd, tools)
    if trust.mode != "yolo" or _rule_texts(settings):
        trust.gate = _gate(trust.mode, load_rules(settings), cwd, home, readable)
    ignored = ProjectOverrides.read(settings).ignored(mode_keys(
        interactive=interactive, approval_given=opts.approval is not None, sandbox_given=opts.sandbox is not None))
    if ignored:
        trust.warnings.append(ignored)
    return trust


async def _sandbox_bash(mode: SandboxMode, cwd: str, tools: dict[str, Tool]) -> SandboxStatus:
    """Probe the sandbox and put ``tools["bash"]`` inside it (imported only when asked for)."""
    from opi_cli.tools import BashTool, LocalFileOps, LocalShellOps
    from opi_cli.tools.sandbox import SandboxedShellOps, probe_sandbox, temp_dirs

    status = await probe_sandbox(mode, cwd)
    current = tools["bash"]  # its process seam carries the commands' environment (no secrets)
    inner = current.shell_ops if isinstance(current, BashTool) else LocalShellOps()
    shell = SandboxedShellOps(inner, status, cwd=cwd, writable=temp_dirs())
    tools["bash"] = BashTool(cwd, LocalFileOps(), shell)
    return status


def _gate(mode: ApprovalMode, rules: PermissionRules, cwd: str, home: str, readable: Sequence[str]) -> PermissionGate:
    """The permission gate (imported only when there is something to check)."""
    from opi_cli.tools import LocalFileOps
    from opi_cli.tools.permission_gate import PermissionGate
    from opi_cli.tools.permissions import PermissionPolicy
    from opi_cli.tools.sandbox import temp_dirs

    policy = PermissionPolicy(mode, rules, cwd=cwd, home=home, temp_dirs=temp_dirs(), readable=readable)
    return PermissionGate(policy, None, file_ops=LocalFileOps())
