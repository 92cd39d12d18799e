"""The audit trail: every moderator action of a JST day, with who did it and why (board/readmodel/moderation.py)."""

from __future__ import annotations

from datetime import date

from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import read_many
from board.store import get_store


def keys(day: date) -> list[str]:
    """A JST day's audit objects: each hour's shards, and the hours' and the day's as earlier versions kept them."""
    hours = [f"{day:%Y%m%d}{hour:02d}" for hour in range(24)]
    return [f"{hour}/{shard}" for hour in hours for shard in range(o.AUDIT_SHARDS)] + hours + [f"{day:%Y%m%d}"]


def actions(day: date, boards: list[str] | None = None, by: str = "") -> list[dict]:
    """The day's actions, newest first, on these boards (None: every board, and site actions) and by whom."""
    found = {}
    for value in read_many(get_store(), o.AUDIT, keys(day)).values():
        state = e.loads(value)
        assert state is not None
        for event_id, entry in state["actions"].items():
            if boards is not None and entry["board"] not in boards:
                continue
            if by and entry["by"] != by:
                continue
            found[event_id] = {**entry, "id": event_id}
    return sorted(found.values(), key=lambda a: a["id"], reverse=True)
