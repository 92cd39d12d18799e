"""The search index's 10-minute slots and days (JST), found per UTC hour, are the zone's answer at every time."""

from __future__ import annotations

import random

import pytest

from board.readmodel.moderation import day_of, jst, slot_of

HOUR = 3_600_000


def by_zone(ms: int) -> tuple[str, str]:
    t = jst(ms)
    return f"{t:%Y%m%d%H}{t.minute // 10}", f"{t:%Y%m%d}"


@pytest.mark.parametrize(
    "start",
    [
        1_767_225_600_000,  # 2026, JST +9 all year
        -2_587_712_400_000,  # 1888, when Japan left local mean time (+9:18:59, off the hour)
        -681_177_600_000,  # 1948, Japan's first summer time
        -583_000_000_000,  # 1951, its last
        -5_000_000_000_000,  # 1811, local mean time
    ],
)
def test_slots_and_days_are_the_zone_lookups(start):
    rng = random.Random(start)
    times = [start + rng.randint(-400 * 24 * HOUR, 400 * 24 * HOUR) for _ in range(20_000)]
    times += [start + n * HOUR + edge for n in range(-48, 48) for edge in (-1, 0, 1, 599_999, 600_000)]
    assert [(slot_of(ms), day_of(ms)) for ms in times] == [by_zone(ms) for ms in times]
