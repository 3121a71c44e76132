"""File snapshots for rewind: the content a file had before ``edit``/``write`` changed it.

Before a file-changing tool call runs, its file's current bytes are stored once,
content-addressed (SHA-256), in a ``file-snapshots`` folder next to the session file, and
a ``custom`` entry (``customType: "opi.file_snapshot"``, pi's extension-state entry, so
the file still loads in pi) records ``{toolCallId, path, before, mode}``; ``before`` is
the digest, or null when the file did not exist. The blob is fsynced before the entry is
appended and the entry is appended before the tool runs, so a crash at any point leaves
either no record or a record whose content is on disk. Sessions without a file use the
fallback store (a folder under ``OPI_HOME`` for PostgreSQL, memory for ``--no-session``).

Only the first change of each file after each user message is recorded: rewinding goes
back to user messages, and that first snapshot is the file's state there.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from opi_cli._util.atomic import write_atomic
from opi_cli._util.jsonio import JsonValue
from opi_cli._util.records import record
from opi_cli.agent.hooks import AgentHooks, BeforeToolCallResult, ToolCallContext
from opi_cli.ai.types import UserMessage
from opi_cli.errors import OpiError
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.entries import CustomEntry, Entry

__all__ = [
    "RESTORED_TYPE",
    "SNAPSHOT_TYPE",
    "BlobStore",
    "DirBlobStore",
    "FileSnapshot",
    "MemoryBlobStore",
    "SnapshotRecorder",
    "blob_store_for",
    "read_file_state",
    "snapshot_of",
]

SNAPSHOT_TYPE = "opi.file_snapshot"
RESTORED_TYPE = "opi.files_restored"
SNAPSHOT_DIR = "file-snapshots"

PathsOf = Callable[[str, dict[str, JsonValue]], list[str]]
"""The absolute paths a tool call would change (empty for calls that change no file)."""


class BlobStore(Protocol):
    """Content-addressed bytes."""

    async def put(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256 hex digest."""
        ...

    async def get(self, digest: str) -> bytes:
        """The bytes stored under ``digest``; raises ``OSError`` when missing."""
        ...


class MemoryBlobStore:
    """Blobs kept in memory (``--no-session``)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self._blobs[digest] = data
        return digest

    async def get(self, digest: str) -> bytes:
        try:
            return self._blobs[digest]
        except KeyError:
            raise FileNotFoundError(f"no snapshot {digest[:12]}") from None


def _write_blob(folder: Path, digest: str, data: bytes) -> None:
    if (folder / digest).exists():
        return
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(folder / digest, data, mode=0o600, sync_dir=True)


class DirBlobStore:
    """Blobs as files named by their digest in ``folder`` (0600 files, 0700 folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(_write_blob, self.folder, digest, data)
        return digest

    async def get(self, digest: str) -> bytes:
        if not digest or not all(c in "0123456789abcdef" for c in digest):
            raise FileNotFoundError(f"not a snapshot digest: {digest!r}")
        return await asyncio.to_thread((self.folder / digest).read_bytes)


def blob_store_for(session_file: str | None, fallback: BlobStore) -> BlobStore:
    """Where a session's snapshots live: next to its file, else ``fallback``."""
    if session_file is None:
        return fallback
    return DirBlobStore(Path(session_file).parent / SNAPSHOT_DIR)


@record
class FileSnapshot:
    """One recorded state: ``before`` is a digest, or None when the file did not exist."""

    entry_id: str
    path: str
    before: str | None
    mode: int | None = None
    tool_call_id: str | None = None


def snapshot_of(entry: Entry) -> FileSnapshot | None:
    """The snapshot an entry records (None for any other entry or a malformed one)."""
    if not isinstance(entry, CustomEntry) or entry.custom_type != SNAPSHOT_TYPE or not isinstance(entry.data, dict):
        return None
    d = entry.data
    path, before, mode, call = d.get("path"), d.get("before"), d.get("mode"), d.get("toolCallId")
    if not isinstance(path, str) or not os.path.isabs(path) or not (before is None or isinstance(before, str)):
        return None
    return FileSnapshot(
        entry.id, path, before, mode if isinstance(mode, int) else None, call if isinstance(call, str) else None
    )


def read_file_state(path: str) -> tuple[bytes, int] | None:
    """A regular file's bytes and permission bits; None when it does not exist (or is no file)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        with open(path, "rb") as f:
            return f.read(), stat.S_IMODE(st.st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


class SnapshotRecorder:
    """A ``before_tool_call`` layer that snapshots the files a call is about to change.

    Built before the session (its hooks go into the agent's options); :meth:`attach`
    binds the session whose file records the snapshots (followed across /new, /resume).

    Args:
        paths_of: the paths a call changes.
        fallback: the blob store for sessions without a file.
        on_error: told when a snapshot cannot be stored (the call still runs: a full
            disk must not stop the work, but the user must learn that rewind lacks it).
    """

    def __init__(
        self, paths_of: PathsOf, fallback: BlobStore, on_error: Callable[[str], None] | None = None
    ) -> None:
        self.session: AgentSession | None = None
        self.paths_of = paths_of
        self.fallback = fallback
        self.on_error = on_error
        self._turn: tuple[str, int] | None = None
        self._seen: set[str] = set()

    def attach(self, session: AgentSession) -> None:
        self.session = session

    def blobs(self) -> BlobStore:
        assert self.session is not None
        return blob_store_for(self.session.session_file, self.fallback)

    def hooks(self) -> AgentHooks:
        return AgentHooks(before_tool_call=self.before_tool_call)

    async def before_tool_call(self, ctx: ToolCallContext) -> BeforeToolCallResult | None:
        paths = self.paths_of(ctx.tool_call.name, dict(ctx.args))
        if not paths or self.session is None:
            return None
        last_user = next((m for m in reversed(ctx.messages) if isinstance(m, UserMessage)), None)
        turn = (self.session.session_id, id(last_user))
        if turn != self._turn:
            self._turn, self._seen = turn, set()
        for path in paths:
            if path in self._seen:
                continue
            try:
                await self.record(path, ctx.tool_call.id)
            except (OSError, OpiError) as exc:
                if self.on_error is not None:
                    self.on_error(f"Cannot keep a snapshot of {path} for /undo and /rewind: {exc}")
                continue
            self._seen.add(path)
        return None

    async def record(self, path: str, tool_call_id: str | None) -> None:
        """Store ``path``'s current content and append the entry that points to it."""
        assert self.session is not None
        state = await asyncio.to_thread(read_file_state, path)
        data: dict[str, JsonValue] = {"path": path, "before": None}
        if tool_call_id is not None:
            data["toolCallId"] = tool_call_id
        if state is not None:
            content, mode = state
            data["before"] = await self.blobs().put(content)
            data["mode"] = mode
        await self.session.flush()  # after the assistant message that asked for the change
        await self.session.writer.append_custom(SNAPSHOT_TYPE, data)
