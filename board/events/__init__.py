"""Events: the immutable records every change to the board is made of."""

from board.events.model import (
    SCHEMA_VERSION,
    SITE,
    BoardCreated,
    Event,
    EventType,
    PostCreated,
    PostDeleted,
    PosterBanned,
    ThreadArchived,
    ThreadCreated,
    decode,
    encode,
    new_event,
)

__all__ = [
    "SCHEMA_VERSION",
    "SITE",
    "BoardCreated",
    "Event",
    "EventType",
    "PostCreated",
    "PostDeleted",
    "PosterBanned",
    "ThreadArchived",
    "ThreadCreated",
    "decode",
    "encode",
    "new_event",
]
