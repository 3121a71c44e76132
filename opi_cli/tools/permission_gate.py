"""The permission gate: a ``before_tool_call`` layer that applies the policy and asks an approver.

A call the policy allows runs; one it denies gets an error result the model reads
(``Permission denied: …``). One it asks about goes to the :class:`Approver` the front end
supplies (the REPL shows a dialog); with no approver (``-p``/``--json``) an ask is a
denial. Every denial is also reported through ``on_denied`` (``--json`` writes it as a
``permission_denied`` event). "Allow for this session" answers add the request's
suggested rules to the policy, so the same command is not asked about again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.events import PermissionDenied
from opi_cli.agent.hooks import AgentHooks, BeforeToolCallResult, ToolCallContext
from opi_cli.errors import ToolError
from opi_cli.tools.edit import apply_edits, parse_edits
from opi_cli.tools.edit_diff import line_diff
from opi_cli.tools.ops import FileOps
from opi_cli.tools.paths import resolve_path
from opi_cli.tools.permissions import Decision, PermissionPolicy

__all__ = [
    "ApprovalAnswer",
    "ApprovalRequest",
    "Approver",
    "PermissionGate",
]

DeniedBy = Literal["rule", "mode", "user", "non_interactive"]
"""Who refused a call: a deny rule, the approval mode, the user, or nobody (headless)."""
_PREVIEW_LINES = 400


@record
class ApprovalRequest:
    """One question for the user.

    Attributes:
        tool_call_id: the call's id.
        tool_name: the tool.
        args: the call's arguments (validated).
        reason: why the policy asks (one line).
        suggestions: rules that "allow for this session" / "always allow" would add
            (empty when the call cannot be remembered as a rule, e.g. a ``$(…)`` line).
        preview: for ``edit``/``write``, the diff the call would make (None otherwise).
    """

    tool_call_id: str
    tool_name: str
    args: dict[str, JsonValue]
    reason: str
    suggestions: tuple[str, ...] = ()
    preview: str | None = None


@record
class ApprovalAnswer:
    """``once`` runs this call; ``session`` also adds the request's suggested rules for the
    rest of the process; ``deny`` refuses it, ``message`` (if any) goes to the model."""

    choice: Literal["once", "session", "deny"]
    message: str | None = None


class Approver(Protocol):
    """Asks the user about one call (the REPL's dialog implements it)."""

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer: ...


class PermissionGate:
    """Applies ``policy`` to every tool call (see the module docstring).

    Args:
        policy: the mode and rules.
        approver: who answers asks (None: nobody, asks are denied).
        file_ops: to read files for edit previews.
        on_denied: told about every denial.
    """

    def __init__(
        self,
        policy: PermissionPolicy,
        approver: Approver | None,
        *,
        file_ops: FileOps,
        on_denied: Callable[[PermissionDenied], None] | None = None,
    ) -> None:
        self.policy = policy
        self.approver = approver
        self.file_ops = file_ops
        self.on_denied = on_denied

    def hooks(self) -> AgentHooks:
        """The gate as a hook layer (combine with :func:`~opi_cli.agent.hooks.compose_hooks`)."""
        return AgentHooks(before_tool_call=self.before_tool_call)

    async def before_tool_call(self, ctx: ToolCallContext) -> BeforeToolCallResult | None:
        call = ctx.tool_call
        decision = self.policy.decide(call.name, ctx.args)
        if decision.verdict == "allow":
            return None
        if decision.verdict == "deny":
            by: DeniedBy = "rule" if decision.rule is not None else "mode"
            return self._deny(ctx, decision.reason, by, decision, f"Permission denied: {decision.reason}.")
        if self.approver is None:
            text = (
                f"Permission denied: this call needs approval ({decision.reason}) and nobody can approve it "
                "in a non-interactive run. The user can allow it with a rule in settings "
                "(permissions.allow) or with --approval yolo."
            )
            return self._deny(ctx, f"needs approval: {decision.reason}", "non_interactive", decision, text)
        request = ApprovalRequest(
            call.id, call.name, dict(ctx.args), decision.reason, decision.suggestions,
            await self._preview(call.name, ctx.args),
        )
        answer = await self.approver.approve(request)
        if answer.choice == "deny":
            text = "Permission denied: the user refused this call."
            if answer.message:
                text += f" The user says: {answer.message}"
            return self._deny(ctx, answer.message or "the user refused", "user", decision, text)
        if answer.choice == "session" and decision.suggestions:
            self.policy.remember(decision.suggestions)
        return None

    def _deny(
        self, ctx: ToolCallContext, reason: str, by: DeniedBy, decision: Decision, text: str
    ) -> BeforeToolCallResult:
        if self.on_denied is not None:
            rule = decision.rule.text if decision.rule is not None else None
            self.on_denied(PermissionDenied(ctx.tool_call.id, ctx.tool_call.name, dict(ctx.args), reason, by, rule))
        return BeforeToolCallResult(True, text)

    async def _preview(self, tool: str, args: dict[str, JsonValue]) -> str | None:
        """The diff an edit or write would make (None for other tools or when unknown)."""
        raw = args.get("path")
        if tool not in ("edit", "write") or not isinstance(raw, str):
            return None
        path = resolve_path(raw, self.policy.cwd, self.policy.home)
        try:
            before = (await self.file_ops.read_bytes(path)).decode("utf-8", "replace").replace("\r\n", "\n")
        except OSError:
            before = ""
        if tool == "write":
            content = args.get("content")
            after = content if isinstance(content, str) else ""
        else:
            try:
                after = apply_edits(before.removeprefix("\ufeff"), parse_edits(args), raw)
            except ToolError as exc:
                return f"(the edit would fail: {exc})"
        diff = line_diff(before, after.replace("\r\n", "\n")).diff
        lines = diff.split("\n")
        if len(lines) > _PREVIEW_LINES:
            lines = [*lines[:_PREVIEW_LINES], f"... ({len(lines) - _PREVIEW_LINES} more lines)"]
        return "\n".join(lines)
