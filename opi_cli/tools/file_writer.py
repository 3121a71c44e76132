"""What ``write`` and ``edit`` share: their seams, the per-path locks, and recording what they leave.

Both replace a file through ``FileOps.write_bytes`` (atomic: a failure leaves the old file)
and then record its new size and mtime in the shared :class:`~.file_state.FileStates`, since
the model knows the content it just wrote: ``edit`` may change it next without a read.
"""

from __future__ import annotations

import copy
from typing import ClassVar

from opi_cli._util.jsonio import JsonValue
from opi_cli.tools.file_state import FileStates
from opi_cli.tools.locks import PathLocks
from opi_cli.tools.ops import FileOps

__all__ = ["FileWriterTool"]


class FileWriterTool:
    """Base of the tools that change files.

    Args:
        cwd: the folder relative paths resolve against.
        file_ops: the file-system seam.
        path_locks: per-path locks shared by ``write`` and ``edit`` (default: private to this tool).
        home: the folder ``~`` expands to.
        file_states: what the model has seen of each file (shared with ``read``), or ``None``.
    """

    parameters_template: ClassVar[dict[str, JsonValue]]

    def __init__(
        self,
        cwd: str,
        file_ops: FileOps,
        *,
        path_locks: PathLocks | None = None,
        home: str | None = None,
        file_states: FileStates | None = None,
    ) -> None:
        self.parameters: dict[str, JsonValue] = copy.deepcopy(self.parameters_template)
        self.cwd = cwd
        self.file_ops = file_ops
        self.path_locks = path_locks if path_locks is not None else PathLocks()
        self.home = home
        self.file_states = file_states

    async def replace(self, abs_path: str, data: bytes) -> None:
        """Write ``data`` to ``abs_path`` atomically and record the result; raises ``OSError``."""
        await self.file_ops.write_bytes(abs_path, data)
        if self.file_states is not None:
            self.file_states.record(abs_path, await self.file_ops.stat(abs_path))
