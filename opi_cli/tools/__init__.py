"""opi's built-in coding tools (read, write, edit, bash, grep, find, ls) and the seams they use.

The names are imported on first use and :func:`create_builtin_tools` imports only the tools
it is asked for: a run with the default four never loads ``grep``, ``find`` and ``ls``, and a
module that needs one name (``tools.trust_modes``, the seams) does not load every tool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from opi_cli._util.lazy import lazy_exports
from opi_cli.agent.tool import Tool

if TYPE_CHECKING:
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

_EXPORTS: dict[str, str] = {
    "BashTool": "opi_cli.tools.bash",
    "DirEntry": "opi_cli.tools.ops",
    "EditTool": "opi_cli.tools.edit",
    "FileOps": "opi_cli.tools.ops",
    "FileStat": "opi_cli.tools.ops",
    "FileStates": "opi_cli.tools.file_state",
    "FindTool": "opi_cli.tools.find",
    "GrepTool": "opi_cli.tools.grep",
    "LocalFileOps": "opi_cli.tools.ops",
    "LocalShellOps": "opi_cli.tools.ops",
    "LsTool": "opi_cli.tools.ls",
    "NotRegularFileError": "opi_cli.tools.ops",
    "PathKind": "opi_cli.tools.ops",
    "PathLocks": "opi_cli.tools.locks",
    "ReadTool": "opi_cli.tools.read",
    "ShellOps": "opi_cli.tools.ops",
    "ShellProcess": "opi_cli.tools.ops",
    "TempFile": "opi_cli.tools.ops",
    "WriteTool": "opi_cli.tools.write",
}

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
    names: Iterable[str] | None = None,
) -> dict[str, Tool]:
    """The built-in tools by name, in :data:`ALL_TOOLS` order, sharing seams and locks.

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
        names: only these tools (default: all seven); names that are not built-in tools are
            left out (callers say which are unknown).
    """
    from opi_cli.tools.file_state import FileStates
    from opi_cli.tools.locks import PathLocks
    from opi_cli.tools.ops import LocalFileOps, LocalShellOps

    wanted = set(ALL_TOOLS if names is None else names)
    files = file_ops if file_ops is not None else LocalFileOps()
    shell = shell_ops if shell_ops is not None else LocalShellOps()
    locks = path_locks if path_locks is not None else PathLocks()
    seen = FileStates()
    edit_states = seen if edit_needs_read else None
    # each tool's module is imported only when the tool is wanted
    def read() -> Tool:
        from opi_cli.tools.read import ReadTool

        return ReadTool(cwd, files, supports_images=supports_images, home=home, file_states=seen)

    def bash() -> Tool:
        from opi_cli.tools.bash import BashTool

        return BashTool(cwd, files, shell)

    def edit() -> Tool:
        from opi_cli.tools.edit import EditTool

        return EditTool(cwd, files, path_locks=locks, home=home, file_states=edit_states)

    def write() -> Tool:
        from opi_cli.tools.write import WriteTool

        return WriteTool(cwd, files, path_locks=locks, home=home, file_states=seen)

    def grep() -> Tool:
        from opi_cli.tools.grep import GrepTool

        return GrepTool(cwd, files, shell, use_external=use_external_search, home=home)

    def find() -> Tool:
        from opi_cli.tools.find import FindTool

        return FindTool(cwd, files, shell, use_external=use_external_search, home=home)

    def ls() -> Tool:
        from opi_cli.tools.ls import LsTool

        return LsTool(cwd, files, home=home)

    makers: dict[str, Callable[[], Tool]] = {
        "read": read, "bash": bash, "edit": edit, "write": write, "grep": grep, "find": find, "ls": ls,
    }
    return {name: makers[name]() for name in ALL_TOOLS if name in wanted}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
