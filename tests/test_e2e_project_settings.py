"""A project's ``.opi/settings.json`` cannot loosen what the user set, unless the user trusts the folder.

A cloned repository could otherwise ship ``defaultApproval: "yolo"``, ``sandbox: "off"``
or ``permissions.allow`` rules that make its commands run without a question. Headless,
against the mock LLM: an untrusted project's loosening keys are ignored with one notice
naming the file and the keys; a trusted one's (``allowProjectCode``, or the REPL's
remembered answer) apply; stricter project values and ``deny`` rules always apply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.mock_llm import MockLLM
from tests.test_e2e_trust import bash_script, denials, results, run, settings

LOOSENING: dict[str, tuple[dict[str, Any], dict[str, Any], tuple[str, ...], str]] = {
    # name: (user settings, project settings, command-line options, keys the notice names)
    "yolo": ({"defaultApproval": "auto"}, {"defaultApproval": "yolo"}, (), "defaultApproval"),
    "allow": ({}, {"permissions": {"allow": ["Bash(touch:*)"]}}, ("--approval", "auto"), "permissions.allow"),
    "both": ({"defaultApproval": "read-only"}, {"defaultApproval": "yolo", "permissions": {"allow": ["Bash"]}}, (),
             "defaultApproval, permissions.allow"),
}


def pwned(srv_cwd: Path, opi_home: Path, case: str) -> tuple[int, list[dict[str, Any]], str]:
    user, project, extra, _ = LOOSENING[case]
    if user:
        settings(opi_home, **user)
    settings(srv_cwd / ".opi", **project)
    with MockLLM(bash_script("touch pwned")) as srv:
        return run(srv, srv_cwd, *extra)


@pytest.mark.parametrize("case", list(LOOSENING))
def test_an_untrusted_project_cannot_loosen_approval(workdir: Path, opi_home: Path, case: str) -> None:
    code, events, stderr = pwned(workdir, opi_home, case)
    assert code == 0
    assert not (workdir / "pwned").exists()
    assert [d["toolCallId"] for d in denials(events)] == ["c0"]
    lines = [x for x in stderr.splitlines() if "settings.json" in x]
    assert lines == [f"opi: Ignored {LOOSENING[case][3]} in {workdir / '.opi' / 'settings.json'}: a project's "
                     "settings cannot loosen yours until you trust the folder (answer yes when the REPL asks, "
                     "or see allowProjectCode in docs/trust.md)."], stderr


@pytest.mark.parametrize("how", ["allowProjectCode", "remembered"])
@pytest.mark.parametrize("case", list(LOOSENING))
def test_a_trusted_project_can(workdir: Path, opi_home: Path, case: str, how: str) -> None:
    if how == "remembered":
        (opi_home / "trusted-projects.json").write_text(json.dumps({str(workdir): True}))
    user = dict(LOOSENING[case][0])
    if how == "allowProjectCode":
        user["allowProjectCode"] = [str(workdir)]
    settings(opi_home, **user)
    settings(workdir / ".opi", **LOOSENING[case][1])
    with MockLLM(bash_script("touch pwned")) as srv:
        code, events, stderr = run(srv, workdir, *LOOSENING[case][2])
    assert code == 0 and (workdir / "pwned").exists(), stderr
    assert not denials(events) and "Ignored" not in stderr


def test_a_remembered_no_is_not_trust(workdir: Path, opi_home: Path) -> None:
    (opi_home / "trusted-projects.json").write_text(json.dumps({str(workdir): False}))
    settings(opi_home, allowProjectCode=True)  # the remembered answer wins, as for project code
    code, _, stderr = pwned(workdir, opi_home, "allow")
    assert code == 0 and not (workdir / "pwned").exists() and "Ignored permissions.allow" in stderr


def test_stricter_project_values_and_deny_rules_still_apply(workdir: Path, opi_home: Path) -> None:
    settings(workdir / ".opi", defaultApproval="read-only", permissions={"deny": ["Bash(touch:*)"]})
    with MockLLM(bash_script("touch pwned")) as srv:
        code, events, stderr = run(srv, workdir)  # headless default: yolo; the project asks for read-only
    assert code == 0 and not (workdir / "pwned").exists()
    assert denials(events)[0]["deniedBy"] in ("mode", "rule") and "Ignored" not in stderr
    settings(workdir / ".opi", permissions={"deny": ["Bash(touch:*)"]})
    with MockLLM(bash_script("touch pwned")) as srv:
        code, events, stderr = run(srv, workdir, "--approval", "yolo")
    assert not (workdir / "pwned").exists() and denials(events)[0]["rule"] == "Bash(touch:*)"


def test_an_untrusted_project_cannot_turn_the_users_sandbox_off(workdir: Path, opi_home: Path) -> None:
    settings(opi_home, sandbox="read-only")
    settings(workdir / ".opi", sandbox="off")
    with MockLLM(bash_script("touch pwned")) as srv:
        code, events, stderr = run(srv, workdir)
    assert "cannot run here" not in stderr, stderr
    assert code == 0 and not (workdir / "pwned").exists()
    is_error, text = results(events)["c0"]
    assert is_error and "Read-only file system" in text
    assert f"opi: Ignored sandbox in {workdir / '.opi' / 'settings.json'}" in stderr


def test_rules_saved_by_always_allow_apply_without_trusting_the_folder(workdir: Path, opi_home: Path) -> None:
    """What the user saved from the REPL's question is theirs: remembered in OPI_HOME, per folder."""
    settings(workdir / ".opi", permissions={"allow": ["Bash(touch pwned)", "Bash(rm:*)"]})
    (opi_home / "allowed-rules.json").write_text(json.dumps({str(workdir): ["Bash(touch pwned)"]}))
    with MockLLM(bash_script("touch pwned", "rm pwned")) as srv:
        code, events, stderr = run(srv, workdir, "--approval", "auto")
    assert code == 0 and (workdir / "pwned").exists()
    assert [d["toolCallId"] for d in denials(events)] == ["c1"]
    assert "Ignored permissions.allow" in stderr
