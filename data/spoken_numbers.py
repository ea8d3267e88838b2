"""Counts as people type them in chat: 「12回」, 「週3日」, 「1時間半」, 「三千円」, 「十二」.

The bot's own buttons say 「3回」 and 「60分」, so a fan answering by keyboard writes the
same words. This module turns such a phrase into the number the catalog's unit means
(minutes for ``minutes_per_day``, yen for ``yen_per_month``...), and refuses, with a
Japanese reason, anything that is not one clear number: ranges (「2〜3回」), vague
words (「数回」, 「十数回」), a different period than the question asks (「週2回」 to a
per-month question), or text that is not a number at all.

The input is expected NFKC-folded (full-width digits already ASCII).
"""

from __future__ import annotations

import math
import re

from data.units import UNITS, Unit

__all__ = ["SpokenNumberError", "read_count", "strip_thousands"]


class SpokenNumberError(ValueError):
    """Not one clear number; the message is Japanese, for the person who typed it."""


PERIOD_NAMES = {"day": "1日", "week": "1週間", "month": "1か月", "year": "1年"}
# Period words a fan may put first (「週3回」, 「1日2時間」, 「月に5000円」).
_PERIODS: tuple[tuple[str, str], ...] = (
    ("day", r"(?:1|一)日|日に"),
    ("week", r"(?:1|一)?週間?|毎週"),
    ("month", r"(?:1|一|ひと)(?:か|ヶ|ケ|カ|ヵ|箇)?月|月|毎月"),
    ("year", r"(?:1|一)?年間?|毎年"),
)
_PERIOD_RE = re.compile(
    "^(?:" + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PERIODS) + r")(?:に|で|あたり|平均)*"
)
_HEDGES_BEFORE = re.compile(r"^(?:だいたい|大体|およそ|約|平均|ほぼ)")
_HEDGES_AFTER = re.compile(r"(?:くらい|ぐらい|位|程度|ほど|前後|です|でした|かな)+$")
_TRAILING = re.compile(r"[。．.!！?？〜~ー]+$")
_RANGE = re.compile(
    r"\d\s*(?:[〜~～\-−ー、,]|から|か|や|or)\s*\d|[一二三四五六七八九十][〜~～\-−、][一二三四五六七八九十]"
)
_VAGUE = re.compile(r"数|何|幾|いくつ|たくさん|沢山|少し|ちょっと|多")
_ZERO_WORDS = frozenset(
    {"ゼロ", "なし", "無し", "ない", "無い", "しない", "していない", "まったくない", "全くない"}
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")

_KANJI_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMBER_TOKEN = re.compile(r"\d+(?:\.\d+)?|[〇零一二三四五六七八九十百千万]")
_NUMBER = r"(?:\d+(?:\.\d+)?|[〇零一二三四五六七八九十百千万])+"


def strip_thousands(text: str) -> str:
    """「1,000」 is a thousand, but 「2,3」 stays two numbers (and is refused as a range)."""
    return _THOUSANDS.sub("", text)


def read_count(text: str, unit: str) -> float:
    """The number ``text`` says in ``unit`` (a catalog unit); raises `SpokenNumberError`.

    >>> read_count("12回", "times_per_year"), read_count("1時間半", "minutes_per_day")
    (12.0, 90.0)
    """
    words = UNITS.get(unit)
    if words is None:
        raise ValueError(f"unknown unit {unit!r}")
    phrase = strip_thousands("".join(text.split()))
    phrase = _TRAILING.sub("", phrase)
    if _RANGE.search(phrase):
        raise SpokenNumberError(f"幅ではなく、ひとつの数字でお答えください（例: {words.example}）。")
    phrase = _HEDGES_AFTER.sub("", _HEDGES_BEFORE.sub("", phrase))
    if phrase in _ZERO_WORDS:
        return 0.0
    if phrase == "毎日" and words.period == "week":
        return 7.0
    if match := _PERIOD_RE.match(phrase):
        period = match.lastgroup
        rest = phrase[match.end() :]
        if period != words.period and rest:
            raise SpokenNumberError(
                f"{PERIOD_NAMES[words.period]}あたりの数でお答えください（例: {words.example}）。"
            )
        if rest:
            phrase = _HEDGES_BEFORE.sub("", rest)
    if _VAGUE.search(phrase):
        raise SpokenNumberError(f"数字でお答えください（例: {words.example}）。")
    value = _read_with_unit(phrase, unit, words)
    if value is None or not math.isfinite(value):
        raise SpokenNumberError(f"数字でお答えください（例: {words.example}）。")
    return value


def _read_with_unit(phrase: str, unit: str, words: Unit) -> float | None:
    if unit == "minutes_per_day":
        match = re.fullmatch(rf"(?:(?P<h>{_NUMBER})時間(?P<half>半)?)?(?:(?P<m>{_NUMBER})分?)?", phrase)
        if match is None or not (match["h"] or match["m"]):
            return None
        if match["h"] and match["m"] and not phrase.endswith("分"):
            return None  # 「1時間30」: the fan stopped half-way
        hours = _number(match["h"]) if match["h"] else 0.0
        minutes = _number(match["m"]) if match["m"] else 0.0
        if hours is None or minutes is None:
            return None
        return hours * 60 + (30 if match["half"] else 0) + minutes
    suffixes = "|".join(map(re.escape, words.typed_suffixes))
    match = re.fullmatch(rf"(?P<n>{_NUMBER})(?:{suffixes})?", phrase)
    return _number(match["n"]) if match else None


def _number(text: str) -> float | None:
    """Arabic or kanji numerals, mixed as people write them (「1万5千」, 「二十五」, 「1.5万」).

    Two digits in a row without a place word (「一二」) could mean 12 or 1-2, so they are refused.
    """
    tokens = _NUMBER_TOKEN.findall(text)
    if "".join(tokens) != text or not tokens:
        return None
    total = 0.0
    section = 0.0
    pending: float | None = None
    last_place = math.inf
    seen_man = False
    for token in tokens:
        if token in _SMALL_UNITS:
            place = _SMALL_UNITS[token]
            if place >= last_place:
                return None  # 「十百」, 「百百」
            section += (1 if pending is None else pending) * place
            pending, last_place = None, place
        elif token == "万":
            if seen_man:
                return None
            section += pending or 0
            if section == 0:
                return None
            total += section * 10_000
            section, pending, last_place, seen_man = 0.0, None, math.inf, True
        else:
            if pending is not None:
                return None
            pending = float(_KANJI_DIGITS[token]) if token in _KANJI_DIGITS else float(token)
    return total + section + (pending or 0)
