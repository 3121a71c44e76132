"""In-memory migration of pi's v1 and v2 session records to v3 (the user's file is never rewritten).

v1 entries have no ids: v2 gives them ids in a linear chain and turns a compaction's
``firstKeptEntryIndex`` (an index into the file's lines, header included) into
``firstKeptEntryId``. v3 renames the message role ``hookMessage`` to ``custom``. Ids made
here are deterministic (``00000001``, ...), so the same file migrates the same way twice.
"""

from __future__ import annotations

from opi_cli._util.jsonio import JsonValue
from opi_cli.session.entries import CURRENT_VERSION

__all__ = ["migrate_records"]


def _v1_to_v2(records: list[dict[str, JsonValue]]) -> None:
    taken = {r["id"] for r in records if isinstance(r.get("id"), str) and r["id"]}
    ids: list[str | None] = [None]  # index 0 is the header
    prev: str | None = None
    n = 0
    for rec in records:
        eid = rec.get("id")
        if not isinstance(eid, str) or not eid:
            # A true v1 record; a record that already has an id (a mislabelled newer file) keeps it.
            n += 1
            while f"{n:08x}" in taken:
                n += 1
            eid = f"{n:08x}"
            rec["id"] = eid
            rec["parentId"] = prev
        prev = eid
        ids.append(eid)
        if rec.get("type") == "compaction":
            index = rec.pop("firstKeptEntryIndex", None)
            if isinstance(index, int) and 0 < index < len(ids):
                rec["firstKeptEntryId"] = ids[index]


def _v2_to_v3(records: list[dict[str, JsonValue]]) -> None:
    for rec in records:
        message = rec.get("message")
        if (
            rec.get("type") == "message"
            and isinstance(message, dict)
            and message.get("role") == "hookMessage"
        ):
            rec["message"] = {**message, "role": "custom"}


def migrate_records(version: int, records: list[dict[str, JsonValue]]) -> list[dict[str, JsonValue]]:
    """Entry dicts of a file at ``version`` -> v3 entry dicts (new dicts; input untouched).

    v1 records are taken in file order; a compaction whose ``firstKeptEntryIndex`` pointed at
    a line that was dropped as unreadable loses that pointer (pi would too).
    """
    out = [dict(r) for r in records]
    if version < 2:
        _v1_to_v2(out)
    if version < CURRENT_VERSION:
        _v2_to_v3(out)
    return out
