"""The one table of count units: what each catalog unit means and how fans and marketers read it.

The catalog names a unit per count item (``times_per_year``...); the chat's buttons and
hints, the reading of typed answers (`data.spoken_numbers`), the admin pages and the
``fanbot survey stats`` command all take their words from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNITS", "Unit", "format_answer", "format_mean"]


@dataclass(frozen=True)
class Unit:
    meaning: str  # what the number counts, for the question's hint: 「1年あたりの回数」
    suffix: str  # after one answer: 「12回」
    per: str  # after an average, for marketers: 「2.3 回/年」
    period: str  # "day", "week", "month", "year": the period a typed answer may name
    typed_suffixes: tuple[str, ...]  # unit words a fan may type after the number
    example: str  # shown when a typed answer is not a number
    buttons: tuple[int, ...]  # exact values offered as quick replies (within the item's max)


TIMES = ("回", "度")

UNITS: dict[str, Unit] = {
    "times_per_month": Unit(
        meaning="1か月あたりの回数", suffix="回", per="回/月", period="month", typed_suffixes=TIMES,
        example="3回", buttons=(0, 1, 2, 3, 4, 5, 8, 10, 15, 20, 30),
    ),
    "times_per_week": Unit(
        meaning="1週間あたりの回数", suffix="回", per="回/週", period="week", typed_suffixes=TIMES,
        example="3回", buttons=(0, 1, 2, 3, 4, 5, 7, 10, 14, 21),
    ),
    "times_per_year": Unit(
        meaning="1年あたりの回数", suffix="回", per="回/年", period="year", typed_suffixes=TIMES,
        example="3回", buttons=(0, 1, 2, 3, 5, 10, 20, 30, 50, 100),
    ),
    "days_per_week": Unit(
        meaning="1週間あたりの日数", suffix="日", per="日/週", period="week", typed_suffixes=("日",),
        example="3日", buttons=(0, 1, 2, 3, 4, 5, 6, 7),
    ),
    "minutes_per_day": Unit(
        meaning="1日あたりの分数", suffix="分", per="分/日", period="day", typed_suffixes=("分",),
        example="30分、1時間半", buttons=(0, 10, 15, 30, 45, 60, 90, 120, 180, 240, 300),
    ),
    "yen_per_month": Unit(
        meaning="1か月あたりの金額", suffix="円", per="円/月", period="month", typed_suffixes=("円",),
        example="3000円、1万円", buttons=(0, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000),
    ),
}  # fmt: skip


def format_answer(is_yes_no: bool, unit: str | None, value: float) -> str:
    """One stored answer as people read it: 「はい」, 「12回」, 「1,000円」."""
    if is_yes_no:
        return "はい" if value == 1 else "いいえ"
    known = UNITS.get(unit or "")
    return f"{int(value):,}{known.suffix if known else ''}"


def format_mean(unit: str | None, mean: float) -> str:
    """An average answer with its unit: 「平均 2.3 回/年」."""
    known = UNITS.get(unit or "")
    return f"平均 {mean:,.1f} {known.per}" if known else f"平均 {mean:,.1f}"
