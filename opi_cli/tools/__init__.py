"""opi's built-in coding tools (read, write, edit, bash, grep, find, ls) and the seams they use."""

from __future__ import annotations

from opi_cli.agent.tool import Tool
from opi_cli.tools.bash import BashTool
from opi_cli.tools.edit import EditTool
from opi_cli.tools.file_state import FileStates
from opi_cli.tools.find import FindTool
from opi_cli.tools.grep import GrepTool
from opi_cli.tools.locks import PathLocks
from opi_cli.tools.ls import LsTool
from opi_cli.tools.ops import (
    DirEntry,
    FileOps,
    FileStat,
    LocalFileOps,
    LocalShellOps,
    NotRegularFileError,
    PathKind,
    ShellOps,
    ShellProcess,
    TempFile,
)
from opi_cli.tools.read import ReadTool
from opi_cli.tools.write import WriteTool

__all__ = [
    "ALL_TOOLS",
    "DEFAULT_TOOLS",
    "BashTool",
    "DirEntry",
    "EditTool",
    "FileOps",
    "FileStat",
    "FileStates",
    "FindTool",
    "GrepTool",
    "LocalFileOps",
    "LocalShellOps",
    "LsTool",
    "NotRegularFileError",
    "PathKind",
    "PathLocks",
    "ReadTool",
    "ShellOps",
    "ShellProcess",
    "TempFile",
    "WriteTool",
    "create_builtin_tools",
]

DEFAULT_TOOLS: tuple[str, ...] = ("read", "bash", "edit", "write")
ALL_TOOLS: tuple[str, ...] = ("read", "bash", "edit", "write", "grep", "find", "ls")


def create_builtin_tools(
    cwd: str,
    *,
    file_ops: FileOps | None = None,
    shell_ops: ShellOps | None = None,
    supports_images: bool = True,
    path_locks: PathLocks | None = None,
    home: str | None = None,
    use_external_search: bool = True,
    edit_needs_read: bool = True,
) -> dict[str, Tool]:
    """All seven built-in tools by name, in :data:`ALL_TOOLS` order, sharing seams and locks.

    ``read``, ``write`` and ``edit`` share one :class:`FileStates`: ``edit`` changes only files
    the model has read (or written) and that have not changed on disk since.

    Args:
        cwd: the working directory relative paths resolve against and commands run in.
        file_ops: the file-system seam (default: :class:`LocalFileOps`).
        shell_ops: the process seam (default: :class:`LocalShellOps` inheriting the environment).
        supports_images: whether ``read`` may return images (the model takes image input).
        path_locks: per-path locks shared by ``write`` and ``edit`` (default: a new one).
        home: the folder ``~`` expands to (default: the user's home).
        use_external_search: let ``grep``/``find`` use ``rg``/``fd`` when they are on PATH.
        edit_needs_read: ``edit`` asks for a ``read`` first; pass False when ``read`` is not
            among the tools the model gets (it could never satisfy the rule).
    """
    files = file_ops if file_ops is not None else LocalFileOps()
    shell = shell_ops if shell_ops is not None else LocalShellOps()
    locks = path_locks if path_locks is not None else PathLocks()
    seen = FileStates()
    edit_states = seen if edit_needs_read else None
    tools: dict[str, Tool] = {
        "read": ReadTool(cwd, files, supports_images=supports_images, home=home, file_states=seen),
        "bash": BashTool(cwd, files, shell),
        "edit": EditTool(cwd, files, path_locks=locks, home=home, file_states=edit_states),
        "write": WriteTool(cwd, files, path_locks=locks, home=home, file_states=seen),
        "grep": GrepTool(cwd, files, shell, use_external=use_external_search, home=home),
        "find": FindTool(cwd, files, shell, use_external=use_external_search, home=home),
        "ls": LsTool(cwd, files, home=home),
    }
    return tools
