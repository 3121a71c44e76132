"""The names of the approval modes and sandbox modes (shared by the policy, the sandbox and the CLI)."""

from __future__ import annotations

from typing import Literal

__all__ = ["APPROVAL_MODES", "SANDBOX_MODES", "ApprovalMode", "SandboxMode"]

ApprovalMode = Literal["yolo", "auto", "read-only"]
APPROVAL_MODES: tuple[ApprovalMode, ...] = ("yolo", "auto", "read-only")
SandboxMode = Literal["workspace-write", "read-only", "off"]
SANDBOX_MODES: tuple[SandboxMode, ...] = ("workspace-write", "read-only", "off")
