"""The permission gate as a hook layer: verdicts, the approver's answers, denial events, previews."""

from __future__ import annotations

from pathlib import Path

from opi_cli.agent.agent import Agent, AgentOptions
from opi_cli.agent.events import PermissionDenied
from opi_cli.ai.providers.faux import FauxProvider, FauxResponse, FauxToolCall, faux_model
from opi_cli.ai.types import ToolResultMessage
from opi_cli.tools import LocalFileOps, create_builtin_tools
from opi_cli.tools.permission_gate import ApprovalAnswer, ApprovalRequest, PermissionGate
from opi_cli.tools.permission_rules import parse_rule
from opi_cli.tools.permissions import PermissionPolicy, PermissionRules


class Scripted:
    """An approver that answers from a list and keeps the requests."""

    def __init__(self, *answers: ApprovalAnswer) -> None:
        self.answers = list(answers)
        self.requests: list[ApprovalRequest] = []

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        self.requests.append(request)
        return self.answers.pop(0)


async def run(cwd: Path, calls: list[FauxToolCall], gate: PermissionGate) -> tuple[list[ToolResultMessage],
                                                                                  list[PermissionDenied]]:
    tools = create_builtin_tools(str(cwd), edit_needs_read=False)  # the scripts edit without reading
    responses = [FauxResponse(tool_calls=[c]) for c in calls] + [FauxResponse(text="done")]
    agent = Agent(AgentOptions(model=faux_model(), provider=FauxProvider(responses),
                               tools=list(tools.values()), hooks=gate.hooks()))
    denied: list[PermissionDenied] = []
    gate.on_denied = denied.append
    await agent.prompt("go")
    return [m for m in agent.messages if isinstance(m, ToolResultMessage)], denied


def gate_for(cwd: Path, approver: Scripted | None, *, mode: str = "auto", deny: tuple[str, ...] = ()) -> PermissionGate:
    rules = PermissionRules(deny=tuple(parse_rule(t, source="test") for t in deny))
    policy = PermissionPolicy(mode, rules, cwd=str(cwd), home=str(cwd / "home"))  # type: ignore[arg-type]
    return PermissionGate(policy, approver, file_ops=LocalFileOps())


def bash(command: str, call_id: str) -> FauxToolCall:
    return FauxToolCall("bash", {"command": command}, call_id)


async def test_allow_for_the_session_stops_asking_and_once_does_not(tmp_path: Path) -> None:
    approver = Scripted(ApprovalAnswer("once"), ApprovalAnswer("session"))
    calls = [bash("touch a", "1"), bash("touch a", "2"), bash("touch a", "3")]
    results, denied = await run(tmp_path, calls, gate_for(tmp_path, approver))
    assert [r.is_error for r in results] == [False, False, False]
    assert len(approver.requests) == 2  # the third call matched the remembered rule
    assert approver.requests[0].suggestions == ("Bash(touch a)",)
    assert denied == []


async def test_denials_carry_the_users_message_and_are_reported(tmp_path: Path) -> None:
    approver = Scripted(ApprovalAnswer("deny", "use make instead"))
    results, denied = await run(tmp_path, [bash("touch a", "1")], gate_for(tmp_path, approver))
    assert results[0].is_error and results[0].content[0].text == (  # type: ignore[union-attr]
        "Permission denied: the user refused this call. The user says: use make instead")
    assert [(d.tool_call_id, d.denied_by, d.reason) for d in denied] == [("1", "user", "use make instead")]
    assert not (tmp_path / "a").exists()


async def test_without_an_approver_an_ask_is_a_denial(tmp_path: Path) -> None:
    results, denied = await run(tmp_path, [bash("touch a", "1")], gate_for(tmp_path, None))
    assert results[0].is_error and "nobody can approve it in a non-interactive run" in results[0].content[0].text  # type: ignore[union-attr]
    assert denied[0].denied_by == "non_interactive" and not (tmp_path / "a").exists()


async def test_deny_rules_never_reach_the_approver(tmp_path: Path) -> None:
    approver = Scripted()
    results, denied = await run(tmp_path, [bash("rm -rf x", "1")], gate_for(tmp_path, approver, deny=("Bash(rm:*)",)))
    assert approver.requests == [] and results[0].is_error
    assert denied[0].denied_by == "rule" and denied[0].rule == "Bash(rm:*)"


async def test_edit_and_write_requests_carry_the_diff(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    target = tmp_path / "outside.txt"
    target.write_text("one\ntwo\n")
    approver = Scripted(ApprovalAnswer("once"), ApprovalAnswer("deny"), ApprovalAnswer("deny"))
    calls = [
        FauxToolCall("edit", {"path": str(target), "oldText": "two", "newText": "TWO"}, "e1"),
        FauxToolCall("write", {"path": str(tmp_path / "new.txt"), "content": "fresh\n"}, "w1"),
        FauxToolCall("edit", {"path": str(target), "oldText": "absent", "newText": "x"}, "e2"),
    ]
    await run(proj, calls, gate_for(proj, approver))
    edit, write, failing = approver.requests
    assert "-2 two" in (edit.preview or "") and "+2 TWO" in (edit.preview or "")
    assert "+1 fresh" in (write.preview or "")
    assert (failing.preview or "").startswith("(the edit would fail: Could not find")
    assert target.read_text() == "one\nTWO\n"
