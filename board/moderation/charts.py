"""Charts drawn on the server as SVG geometry: readable without JavaScript, and fit for a strict CSP.

Plain functions turn a time series into coordinates (bars, a line, grid lines, labels), already
formatted as strings; ``templates/moderation/_chart.html`` writes them out as SVG elements with
classes (colours are in ``static/moderation/loghealth.css``), never a style attribute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

WIDTH, HEIGHT = 840, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    label: str


@dataclass(frozen=True)
class Tick:
    x: str
    y: str
    label: str


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    points: str = ""  # an SVG polyline's points, for a line chart
    last: Tick | None = None  # the line's newest sample, marked (a single sample draws no line)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    total: int = 0
    peak: int = 0

    @property
    def left(self) -> int:
        return LEFT

    @property
    def right(self) -> int:
        return self.width - RIGHT

    @property
    def baseline(self) -> str:
        return _n(self.height - BOTTOM)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _scale(peak: int) -> int:
    """A round top for the y axis, at least peak: 1, 2 or 5 times a power of ten."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= peak:
                return step * magnitude
        magnitude *= 10


def _frame(chart: Chart, start: datetime, end: datetime, top: int, zone: tzinfo) -> None:
    """Grid lines at 0, half (when a whole number) and top, and a label at each local midnight between start and end."""
    plot = chart.height - TOP - BOTTOM
    for value in (0, top // 2, top) if top % 2 == 0 else (0, top):
        y = chart.height - BOTTOM - plot * value / top
        chart.y_ticks.append(Tick(_n(LEFT - 4), _n(y), str(value)))
    span = (end - start).total_seconds()
    day = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day < end:
        x = LEFT + (chart.right - LEFT) * (day - start).total_seconds() / span
        chart.x_ticks.append(Tick(_n(x), _n(chart.height - 6), f"{day:%m/%d}"))
        day += timedelta(days=1)


def hourly_bars(title: str, counts: dict[datetime, int], start: datetime, end: datetime, zone: tzinfo) -> Chart:
    """One bar per hour from start (on the hour) to end; hours missing from counts are zero."""
    chart = Chart(title)
    hours = max(1, math.ceil((end - start).total_seconds() / 3600))  # the hour under way too
    peak = max(counts.values(), default=0)
    top = _scale(max(peak, 1))
    plot = chart.height - TOP - BOTTOM
    slot = (chart.right - LEFT) / hours
    for n in range(hours):
        hour = start + timedelta(hours=n)
        value = counts.get(hour, 0)
        chart.total += value
        if not value:
            continue
        height = plot * value / top
        label = f"{hour.astimezone(zone):%m/%d %H}時: {value}"
        chart.bars.append(
            Bar(_n(LEFT + n * slot), _n(chart.height - BOTTOM - height), _n(max(slot - 1, 1)), _n(height), label)
        )
    chart.peak = peak
    _frame(chart, start, end, top, zone)
    return chart


def time_line(title: str, samples: list[tuple[datetime, int]], start: datetime, end: datetime, zone: tzinfo) -> Chart:
    """A line through (time, value) samples between start and end."""
    chart = Chart(title)
    shown = [(at, value) for at, value in samples if start <= at <= end]
    chart.peak = max((value for _, value in shown), default=0)
    top = _scale(max(chart.peak, 1))
    plot = chart.height - TOP - BOTTOM
    span = (end - start).total_seconds()
    xy = [
        (
            _n(LEFT + (chart.right - LEFT) * (at - start).total_seconds() / span),
            _n(chart.height - BOTTOM - plot * v / top),
        )
        for at, v in shown
    ]
    chart.points = " ".join(f"{x},{y}" for x, y in xy)
    if shown:
        chart.last = Tick(*xy[-1], f"{shown[-1][0].astimezone(zone):%m/%d %H:%M}: {shown[-1][1]}")
    _frame(chart, start, end, top, zone)
    return chart
