"""Events and stored states are canonical JSON, byte for byte what the json module wrote.

The log's create() takes "the same bytes are already there" as its own earlier
attempt, and stored values are compared by their bytes, so the encoding must
not change under a deploy: values and events written before orjson encoded
them must read back, and the same state must give the same bytes.
"""

from __future__ import annotations

import json

import pytest

from board.events import EventType, decode, encode, new_event
from board.events.model import MalformedEvent
from board.readmodel import encoding as e

TEXT = '名無し\x00\x01\t\n\x1f"\\/\x7f\u2028\u2029\ufeff😀 </script> ｱｲｳ'


def canonical(value) -> bytes:
    """How the events and states were encoded before orjson did it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def an_event():
    payload = {"name": TEXT, "mail": "sage", "body": TEXT * 3, "id": "AbCd", "z": [1, None, True], "a": {"y": 2}}
    return new_event(EventType.POST_CREATED, "test", "1700000000", 5, payload)


def test_an_event_encodes_to_the_bytes_the_json_module_gave() -> None:
    event = an_event()
    assert encode(event) == canonical(event.as_dict())


def test_an_event_the_json_module_wrote_decodes_to_the_same_event() -> None:
    event = an_event()
    assert decode(canonical(event.as_dict())) == event


def test_a_state_encodes_to_the_bytes_the_json_module_gave() -> None:
    state = {"title": TEXT, "posts": {"9": {"deleted": True}, "10": {"time": 1_700_000_000_123, "body": TEXT}}}
    assert e.dumps(state) == canonical(state)


def test_a_stored_value_the_json_module_wrote_reads_back() -> None:
    state = {"posts": {"2": {"body": TEXT}}, "title": "スレ"}
    assert e.loads(canonical(state) + e.FRAME + b"{}" + e.FRAME + b"bytes") == state


def test_a_line_that_is_not_utf8_is_a_malformed_event() -> None:
    with pytest.raises(MalformedEvent, match="not JSON"):
        decode(b'{"id":"\xff","type":"PostCreated","time":1,"board":"test"}')
