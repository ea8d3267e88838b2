"""Server-rendered SVG charts: geometry computed here, drawn by a Jinja template (no JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WEEKDAYS = "月火水木金土日"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    tick: str  # shown under every seventh bar


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    maximum: int
    total: int


def daily_bar_chart(series: list[tuple[date, int]], *, width: int = 720, height: int = 200) -> BarChart:
    top, bottom, left, right = 16, height - 28, 40, 8
    maximum = max((value for _, value in series), default=0)
    scale = (bottom - top) / maximum if maximum else 0.0
    slot = (width - left - right) / max(len(series), 1)
    bars = []
    for index, (day, value) in enumerate(series):
        bar_height = value * scale
        bars.append(
            Bar(
                x=round(left + index * slot + slot * 0.1, 1),
                y=round(bottom - bar_height, 1),
                width=round(slot * 0.8, 1),
                height=round(bar_height, 1),
                label=f"{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）",
                value=value,
                tick=f"{day.month}/{day.day}" if (len(series) - 1 - index) % 7 == 0 else "",
            )
        )
    return BarChart(width, height, top, bottom, bars, maximum, sum(v for _, v in series))
