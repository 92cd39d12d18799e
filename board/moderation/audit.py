"""The audit trail: every moderator action of a JST day, with who did it and why (board/readmodel/moderation.py)."""

from __future__ import annotations

from datetime import date

from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import read
from board.store import get_store


def actions(day: date, boards: list[str] | None = None, by: str = "") -> list[dict]:
    """The day's actions, newest first, on these boards (None: every board, and site actions) and by whom."""
    state = e.loads(read(get_store(), o.AUDIT, f"{day:%Y%m%d}")) or {"actions": {}}
    found = []
    for event_id, entry in state["actions"].items():
        if boards is not None and entry["board"] not in boards:
            continue
        if by and entry["by"] != by:
            continue
        found.append({**entry, "id": event_id})
    found.sort(key=lambda a: a["id"], reverse=True)
    return found
