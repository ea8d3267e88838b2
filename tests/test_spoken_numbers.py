"""Counts typed the way people write them are read as the number the question's unit means."""

from __future__ import annotations

import pytest

from data.answers import AnswerError, parse_value
from data.catalog import load_catalog
from data.spoken_numbers import SpokenNumberError, read_count


@pytest.mark.parametrize(
    ("typed", "unit", "expected"),
    [
        ("12回", "times_per_year", 12),
        ("年12回", "times_per_year", 12),
        ("年に12回くらい", "times_per_year", 12),
        ("約3回", "times_per_month", 3),
        ("3回です。", "times_per_month", 3),
        ("月に2回", "times_per_month", 2),
        ("1か月に2度", "times_per_month", 2),
        ("週3日", "days_per_week", 3),
        ("毎日", "days_per_week", 7),
        ("毎日", "times_per_week", 7),
        ("90分", "minutes_per_day", 90),
        ("2時間", "minutes_per_day", 120),
        ("1時間半", "minutes_per_day", 90),
        ("1時間30分", "minutes_per_day", 90),
        ("1日2時間くらい", "minutes_per_day", 120),
        ("三千円", "yen_per_month", 3000),
        ("1万5千円", "yen_per_month", 15000),
        ("1.5万円", "yen_per_month", 15000),
        ("1,000円", "yen_per_month", 1000),
        ("十二", "times_per_year", 12),
        ("二十五回", "times_per_year", 25),
        ("百二十", "times_per_year", 120),
        ("〇回", "times_per_year", 0),
        ("なし", "times_per_month", 0),
        ("１２ 回", "times_per_year", 12),
    ],
)
def test_counts_with_unit_words_and_kanji_numerals_are_read(typed: str, unit: str, expected: int) -> None:
    import unicodedata

    assert read_count(unicodedata.normalize("NFKC", typed), unit) == expected


@pytest.mark.parametrize(
    ("typed", "unit", "reason"),
    [
        ("2〜3回", "times_per_month", "ひとつの数字"),
        ("2,3回", "times_per_month", "ひとつの数字"),
        ("2か3回", "times_per_month", "ひとつの数字"),
        ("数回", "times_per_month", "数字でお答えください"),
        ("十数回", "times_per_month", "数字でお答えください"),
        ("何回か", "times_per_month", "数字でお答えください"),
        ("たくさん", "times_per_month", "数字でお答えください"),
        ("週2回", "times_per_month", "1か月あたり"),
        ("年3回", "times_per_week", "1週間あたり"),
        ("なんとなく", "times_per_month", "数字でお答えください（例: 3回）"),
        ("わからない", "times_per_month", "数字でお答えください"),
        ("一二", "times_per_month", "数字でお答えください"),
        ("十百", "times_per_month", "数字でお答えください"),
        ("1時間30", "minutes_per_day", "例: 30分、1時間半"),
        ("3日", "times_per_month", "数字でお答えください"),
    ],
)
def test_what_is_not_one_clear_number_is_refused_with_a_reason(typed: str, unit: str, reason: str) -> None:
    with pytest.raises(SpokenNumberError, match=reason):
        read_count(typed, unit)


def test_the_stored_answer_goes_through_the_catalog_range_check() -> None:
    catalog = load_catalog()
    live_games = catalog["live_games_per_year"]
    line_minutes = catalog["line_minutes_per_day"]

    assert parse_value(live_games, "12回") == 12
    assert parse_value(line_minutes, "２時間") == 120
    with pytest.raises(AnswerError, match="0から365まで"):
        parse_value(live_games, "千回")
    with pytest.raises(AnswerError, match="整数"):
        parse_value(live_games, "1.5回")


def test_yes_no_items_still_refuse_numbers_with_units() -> None:
    item = load_catalog()["likes_super_sento"]

    with pytest.raises(AnswerError, match="「はい」か「いいえ」"):
        parse_value(item, "3回")
