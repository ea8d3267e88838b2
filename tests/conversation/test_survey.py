"""Answering the survey in chat: rounds, buttons, typed numbers, stale and forged taps, changes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from bot.postback import MAX_LENGTH, encode
from bot.settings import CONSENT_VERSION
from bot.survey import install_priority_provider
from bot.survey.rounds import advance
from data.answers import record_answer
from data.consent import is_reachable
from data.models import SurveyRound
from data.survey_selection import DEFAULT_PRIORITY_ITEMS
from tests.conftest import FrozenClock
from tests.conversation.conftest import Store, button_labels, consented_fan, last, tap, use_priority
from tests.line_driver import LineDriver, quick_replies, texts

FIRST = DEFAULT_PRIORITY_ITEMS[0]  # watches_sports_live_yearly, yes/no
COUNT_ITEM = "live_games_per_year"  # count, times_per_year, max 365


def start_round(line: LineDriver, user: str) -> list[dict[str, Any]]:
    return line.text(user, "アンケート")


def round_until(line: LineDriver, store: Store, user: str, item_id: str) -> dict[str, Any]:
    """Start a round with ``item_id`` first and return the message asking it."""
    replies = start_round(line, user)
    assert store.rounds(user)[-1].current_item_id == item_id
    return last(replies)


# --- a round ----------------------------------------------------------------------------------------


def test_consent_reply_already_asks_the_first_question(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    assert texts(replies)[0] == "ご同意ありがとうございます！"
    assert texts(replies)[1].startswith(
        "アンケートです。今回は5問です（まだお答えいただいていない質問は全部で"
    )
    assert "「12回」のように送って" in texts(replies)[1]
    assert "【Q1/5】" in texts(replies)[2]
    assert button_labels(last(replies)) == ["はい", "いいえ", "スキップ", "今日はここまで"]
    (survey_round,) = store.rounds(user)
    assert survey_round.items[0] == FIRST and len(survey_round.items) == 5


def test_a_round_asks_one_question_per_reply_and_ends_with_thanks_and_count(
    line: LineDriver, store: Store
) -> None:
    user, replies = consented_fan(line)
    asked = [store.rounds(user)[-1].current_item_id]
    for number in range(2, 6):
        replies = tap(line, user, last(replies), button_labels(last(replies))[0])
        assert len(replies) == 1
        assert texts(replies)[0].startswith("ありがとうございます！")
        assert f"【Q{number}/5】" in texts(replies)[0]
        asked.append(store.rounds(user)[-1].current_item_id)
    replies = tap(line, user, last(replies), button_labels(last(replies))[0])
    assert len(replies) == 1
    total = len(store.catalog)
    assert f"これまでに5問にお答えいただきました（残り{total - 5}問）" in texts(replies)[0]
    # 続けて答える is a postback whose chat text reads as the fan's own words.
    more, stop = quick_replies(replies[0])
    assert (more["type"], more["label"], more["displayText"]) == (
        "postback",
        "続けて答える",
        "続けて答えます",
    )
    assert (stop["label"], stop["displayText"]) == ("今日はここまで", "今日はここまで")
    assert set(store.answers(user)) == set(asked)
    (survey_round,) = store.rounds(user)
    assert survey_round.closed_at is not None and survey_round.position == 5


def test_next_round_continues_with_unanswered_items(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    for _ in range(5):
        replies = tap(line, user, last(replies), button_labels(last(replies))[0])
    first_round = set(store.answers(user))
    replies = start_round(line, user)
    second = store.rounds(user)[-1]
    assert not set(second.items) & first_round
    assert "【Q1/5】" in texts(replies)[-1]


def test_rich_menu_survey_button_continues_the_open_round(
    line: LineDriver, fan_id: str, store: Store
) -> None:
    replies = line.postback(fan_id, encode("survey"))
    assert texts(replies) == [texts(replies)[0]]
    assert texts(replies)[0].startswith("アンケートの続きです。\n\n【Q1/5】")
    assert len(store.rounds(fan_id)) == 1 and store.rounds(fan_id)[0].closed_at is None


def test_rich_menu_survey_button_after_a_round_starts_the_next(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    for _ in range(5):
        replies = tap(line, user, last(replies), button_labels(last(replies))[0])
    replies = line.postback(user, encode("survey"))
    assert "【Q1/5】" in texts(replies)[-1]
    assert len(store.rounds(user)) == 2 and store.rounds(user)[0].closed_at is not None


def test_yes_no_buttons_store_one_and_zero(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento")
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "はい")
    tap(line, user, last(replies), "いいえ")
    assert store.answers(user) == {"likes_sauna": 1.0, "likes_super_sento": 0.0}


def test_count_question_offers_exact_values_within_range(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, "drinking_days_per_week", COUNT_ITEM)
    user, replies = consented_fan(line)
    days = last(replies)
    assert button_labels(days) == [
        *("0日", "1日", "2日", "3日", "4日", "5日", "6日", "7日"),
        *("スキップ", "今日はここまで"),
    ]
    assert "ボタンから選ぶか、「3日」のように送ってください（0〜7日）。" in days["text"]
    replies = tap(line, user, days, "3日")
    yearly = last(replies)
    labels = button_labels(yearly)
    assert labels[-2:] == ["スキップ", "今日はここまで"] and "100回" in labels
    assert len(labels) <= 13 and all(len(label) <= 20 for label in labels)
    assert all(len(action["data"]) <= MAX_LENGTH for action in quick_replies(yearly))
    tap(line, user, yearly, "20回")
    assert store.answers(user) == {"drinking_days_per_week": 3.0, COUNT_ITEM: 20.0}


def test_typed_number_answers_a_count_question(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, COUNT_ITEM, "likes_sauna")
    user, _ = consented_fan(line)
    replies = line.text(user, "12")
    assert "【Q2/5】" in texts(replies)[0] and "サウナが好き" in texts(replies)[0]
    assert store.answers(user) == {COUNT_ITEM: 12.0}


def test_full_width_digits_are_read_as_a_number(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, COUNT_ITEM, "likes_sauna")
    user, _ = consented_fan(line)
    line.text(user, "１２")
    assert store.answers(user) == {COUNT_ITEM: 12.0}


def test_typed_yes_answers_a_yes_no_question(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento")
    user, _ = consented_fan(line)
    line.text(user, "はい")
    assert store.answers(user) == {"likes_sauna": 1.0}


# --- bad typed input -------------------------------------------------------------------------------


def assert_asked_again(replies: list[dict[str, Any]], error: str, question_text: str) -> None:
    assert len(replies) == 2
    assert texts(replies)[0] == error
    assert question_text in texts(replies)[1]
    assert button_labels(replies[1])[-2:] == ["スキップ", "今日はここまで"]


def test_out_of_range_typed_count_is_refused_and_asked_again(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, COUNT_ITEM)
    user, _ = consented_fan(line)
    replies = line.text(user, "366")
    assert_asked_again(replies, "0から365までの数字でお答えください。", "現地でみる頻度は？")
    replies = line.text(user, "-1")
    assert_asked_again(replies, "0から365までの数字でお答えください。", "現地でみる頻度は？")
    replies = line.text(user, "2.5")
    assert_asked_again(replies, "整数でお答えください。", "現地でみる頻度は？")
    assert store.answers(user) == {}
    assert store.rounds(user)[-1].position == 0


def test_non_numeric_typed_count_is_refused_and_asked_again(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, COUNT_ITEM)
    user, _ = consented_fan(line)
    replies = line.text(user, "たくさん")
    assert_asked_again(replies, "数字でお答えください（例: 3回）。", "現地でみる頻度は？")
    assert store.answers(user) == {}


def test_emoji_is_refused_and_asked_again(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, COUNT_ITEM, "likes_sauna")
    user, _ = consented_fan(line)
    replies = line.text(user, "🏀🔥")
    assert_asked_again(replies, "数字でお答えください（例: 3回）。", "現地でみる頻度は？")
    line.text(user, "1")
    replies = line.text(user, "👍")
    assert texts(replies)[0].startswith("ボタンで「はい」か「いいえ」をお選びください")
    assert store.answers(user) == {COUNT_ITEM: 1.0}
    assert store.rounds(user)[-1].position == 1


def test_free_text_during_a_yes_no_question_keeps_the_question_and_its_buttons(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna")
    user, _ = consented_fan(line)
    for text in ("なんとなく", "こんにちは"):
        replies = line.text(user, text)
        assert (
            texts(replies)[0]
            == "ボタンで「はい」か「いいえ」をお選びください（答えにくいときは「スキップ」）。"
        )
        assert "【Q1/5】\nサウナが好き" in texts(replies)[1]
        assert button_labels(last(replies)) == ["はい", "いいえ", "スキップ", "今日はここまで"]
    assert store.answers(user) == {}
    line.text(user, "いいえ")
    assert store.answers(user) == {"likes_sauna": 0.0}


def test_very_long_text_is_refused_without_echoing_it(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, COUNT_ITEM)
    user, _ = consented_fan(line)
    for text in ("あ" * 5000, "9" * 5000):
        replies = line.text(user, text)
        assert_asked_again(replies, "数字でお答えください（例: 3回）。", "現地でみる頻度は？")
        assert all(len(message["text"]) < 500 for message in replies)
    assert store.answers(user) == {}


# --- skipping --------------------------------------------------------------------------------------


def test_skip_moves_on_without_storing_and_is_recorded_on_the_round(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento")
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "スキップ")
    assert texts(replies)[0].startswith("スキップしました。")
    assert "スーパー銭湯によく行く" in texts(replies)[0]
    replies = line.text(user, "スキップ")  # typed works too
    assert "【Q3/5】" in texts(replies)[0]
    assert store.answers(user) == {}
    survey_round = store.rounds(user)[-1]
    assert survey_round.skipped == ["likes_sauna", "likes_super_sento"]
    assert survey_round.position == 2


def skip_round(line: LineDriver, store: Store, user: str, replies: list[dict[str, Any]]) -> list[str]:
    """Skip every question of the open round; return its items."""
    items = store.rounds(user)[-1].items
    for _ in items:
        replies = tap(line, user, last(replies), "スキップ")
    return items


def answer_round(line: LineDriver, user: str) -> list[dict[str, Any]]:
    replies = start_round(line, user)
    for _ in range(5):
        replies = tap(line, user, last(replies), button_labels(last(replies))[0])
    return replies


def test_a_skipped_item_moves_to_the_back_instead_of_opening_the_next_round(
    line: LineDriver, app: Flask, store: Store
) -> None:
    user, replies = consented_fan(line)
    first = skip_round(line, store, user, replies)
    for _ in range(3):
        replies = start_round(line, user)
        survey_round = store.rounds(user)[-1]
        assert not set(survey_round.items) & set(first), "a skipped item came back before the rest"
        for _ in range(5):
            replies = tap(line, user, last(replies), button_labels(last(replies))[0])


def test_an_item_skipped_twice_is_not_asked_again(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app)  # no campaign needs anything
    user, replies = consented_fan(line)
    fan = store.fan(user)
    assert fan is not None
    skipped = skip_round(line, store, user, replies)
    # Leave only the skipped items (and one more) unanswered, so they must come back once.
    keep = {*skipped, "has_dog"}
    with store.database.transaction() as session:
        for item_id in store.catalog:
            if item_id not in keep:
                record_answer(session, fan.id, item_id, 0.0, datetime_of(store))
    replies = start_round(line, user)
    assert store.rounds(user)[-1].items == ["has_dog", *skipped[:4]]
    assert "全部で6問" in texts(replies)[0]
    replies = tap(line, user, last(replies), "はい")  # has_dog
    for _ in range(4):
        replies = tap(line, user, last(replies), "スキップ")
    replies = start_round(line, user)
    assert store.rounds(user)[-1].items == [skipped[4]]
    replies = tap(line, user, last(replies), "スキップ")
    assert "お答えいただける質問は以上です" in texts(replies)[0]
    assert "お答えいただける質問は以上です" in texts(start_round(line, user))[0]


def test_an_item_a_campaign_needs_is_asked_again_after_two_skips(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna")
    user, replies = consented_fan(line)
    fan = store.fan(user)
    assert fan is not None
    replies = tap(line, user, last(replies), "スキップ")
    line.text(user, "今日はここまで")
    with store.database.transaction() as session:
        for item_id in store.catalog:
            if item_id != "likes_sauna":
                record_answer(session, fan.id, item_id, 0.0, datetime_of(store))
    for _ in range(2):
        replies = start_round(line, user)
        assert store.rounds(user)[-1].items == ["likes_sauna"]
        replies = tap(line, user, last(replies), "スキップ")
        assert "残り1問" in texts(replies)[0]


def datetime_of(store: Store) -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# --- stale, forged and repeated taps ---------------------------------------------------------------


def test_button_of_an_already_answered_question_changes_nothing(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento")
    user, replies = consented_fan(line)
    first_question = last(replies)
    tap(line, user, first_question, "はい")
    replies = tap(line, user, first_question, "いいえ")
    assert texts(replies)[0] == "このボタンは前の質問のもののため、受け付けられませんでした。"
    assert "いまの質問はこちらです。" in texts(replies)[1]
    assert "スーパー銭湯によく行く" in texts(replies)[1]
    assert store.answers(user) == {"likes_sauna": 1.0}
    assert store.rounds(user)[-1].position == 1


def test_button_from_an_earlier_round_changes_nothing(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, "likes_sauna")
    user, replies = consented_fan(line)
    old_question = last(replies)
    line.text(user, "今日はここまで")  # closes the first round
    start_round(line, user)  # likes_sauna is asked again in the new one
    assert store.rounds(user)[-1].items[0] == "likes_sauna"
    replies = tap(line, user, old_question, "はい")
    assert texts(replies)[0] == "このボタンは前の質問のもののため、受け付けられませんでした。"
    assert store.answers(user) == {}
    assert [r.position for r in store.rounds(user)] == [0, 0]


def test_tap_after_the_round_ended_points_to_the_survey_keyword(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna")
    user, replies = consented_fan(line)
    question = last(replies)
    for _ in range(5):
        replies = tap(line, user, last(replies), button_labels(last(replies))[0])
    replies = tap(line, user, question, "いいえ")
    assert texts(replies) == [
        "このボタンは前の質問のもののため、受け付けられませんでした。",
        "アンケートの続きは「アンケート」と送ってください。",
    ]
    assert store.answers(user)["likes_sauna"] == 1.0


def test_forged_value_is_refused_and_the_question_asked_again(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna")
    user, _ = consented_fan(line)
    round_id = str(store.rounds(user)[-1].id)
    for value in ("7", "0.5", "nan", "-1", "1e400"):
        replies = line.postback(user, encode("answer", "likes_sauna", value, round_id))
        assert texts(replies)[0] == "このボタンの回答は受け付けられませんでした。もう一度お答えください。"
        assert "サウナが好き" in texts(replies)[1]
    assert store.answers(user) == {}
    assert store.rounds(user)[-1].position == 0


def test_forged_unknown_item_is_refused(line: LineDriver, store: Store) -> None:
    user, _ = consented_fan(line)
    round_id = str(store.rounds(user)[-1].id)
    replies = line.postback(user, encode("answer", "owns_a_yacht", "1", round_id))
    assert texts(replies)[0] == "このボタンは前の質問のもののため、受け付けられませんでした。"
    replies = line.postback(user, encode("change", "owns_a_yacht"))
    assert texts(replies) == ["申し訳ありません、このボタンは現在ご利用いただけません。"]
    assert store.answers(user) == {}


def test_forged_round_of_another_fan_is_refused(line: LineDriver, store: Store) -> None:
    alice, _ = consented_fan(line, "アリス")
    bob, _ = consented_fan(line, "ボブ")
    alice_round = store.rounds(alice)[-1]
    item = alice_round.current_item_id
    assert item is not None
    replies = line.postback(bob, encode("answer", item, "1", str(alice_round.id)))
    assert texts(replies)[0] == "このボタンは前の質問のもののため、受け付けられませんでした。"
    assert store.answers(alice) == {} and store.answers(bob) == {}


def test_unparseable_postback_gets_a_polite_reply(line: LineDriver, fan_id: str, store: Store) -> None:
    for data in ("", "hello", "fb1:answer:likes_sauna", "fb9:answer:likes_sauna:1:1", "fb1:nope", "x" * 301):
        replies = line.postback(fan_id, data)
        assert texts(replies)[0] == "申し訳ありません、このボタンは現在ご利用いただけません。"
    assert store.answers(fan_id) == {}


def test_redelivered_answer_is_stored_once_and_replied_once(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    tap(line, user, last(replies), "はい")
    before = len(line.state.messages_for(user))
    response = line.redeliver_last()
    assert response.status_code == 200
    assert len(line.state.messages_for(user)) == before
    assert store.answers(user) == {FIRST: 1.0}
    assert store.rounds(user)[-1].position == 1


def test_unfinished_round_expires_after_a_day(
    line: LineDriver, app: Flask, store: Store, clock: FrozenClock
) -> None:
    use_priority(app, COUNT_ITEM)
    user, replies = consented_fan(line)
    clock.advance(hours=25)
    replies_to_number = line.text(user, "3")
    assert "ご利用いただけるキーワードです。" in texts(replies_to_number)[0]
    replies = tap(line, user, last(replies), "3回")
    assert texts(replies)[0] == "このボタンは前の質問のもののため、受け付けられませんでした。"
    assert store.answers(user) == {}


def test_unfollowed_fan_who_still_taps_is_answered_but_gets_no_pushes(
    line: LineDriver, app: Flask, store: Store
) -> None:
    # Decision: consent still stands after an unfollow, and the event is signed by LINE,
    # so a late tap (events can arrive out of order) is stored; pushes stop regardless.
    use_priority(app, "likes_sauna")
    user, replies = consented_fan(line)
    line.unfollow(user)
    tap(line, user, last(replies), "はい")
    assert store.answers(user) == {"likes_sauna": 1.0}
    fan = store.fan(user)
    assert fan is not None and not fan.is_following and not is_reachable(fan, CONSENT_VERSION)


# --- what comes first ------------------------------------------------------------------------------


def test_installed_priority_provider_decides_the_first_questions(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "has_dog", "not_a_real_item", "likes_camping")
    user, _ = consented_fan(line)
    assert store.rounds(user)[-1].items[:2] == ["has_dog", "likes_camping"]


def test_failing_priority_provider_falls_back_to_the_default_list(
    line: LineDriver, app: Flask, store: Store
) -> None:
    def broken(_session: Session) -> list[str]:
        raise RuntimeError("campaign service down")

    install_priority_provider(app, broken)
    user, _ = consented_fan(line)
    assert store.rounds(user)[-1].items[0] == FIRST


def test_fan_who_answered_everything_is_told_so(line: LineDriver, store: Store, clock: FrozenClock) -> None:
    user, _ = consented_fan(line)
    fan = store.fan(user)
    assert fan is not None
    line.text(user, "今日はここまで")
    with store.database.transaction() as session:
        for item_id in store.catalog:
            if item_id != FIRST:
                record_answer(session, fan.id, item_id, 0.0, clock())
    replies = start_round(line, user)
    assert "今回は1問です（まだお答えいただいていない質問は全部で1問）" in texts(replies)[0]
    replies = tap(line, user, last(replies), "はい")
    assert (
        f"お答えいただける質問は以上です（{len(store.catalog)}問にお答えいただきました）" in texts(replies)[0]
    )
    replies = start_round(line, user)
    assert "お答えいただける質問は以上です" in texts(replies)[0]
    assert [a["text"] for a in quick_replies(replies[0])] == ["回答変更"]


def test_two_taps_of_the_same_button_handled_at_once_move_the_round_once(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    # Two webhook workers read the round before either writes: only the first write wins.
    user, _ = consented_fan(line)
    round_id = store.rounds(user)[-1].id
    with store.database.transaction() as first:
        seen_by_first = first.get(SurveyRound, round_id)
    with store.database.transaction() as second:
        seen_by_second = second.get(SurveyRound, round_id)
    assert seen_by_first is not None and seen_by_second is not None
    with store.database.transaction() as first:
        first.add(seen_by_first)
        assert advance(first, seen_by_first, FIRST, clock())
    with store.database.transaction() as second:
        second.add(seen_by_second)
        assert not advance(second, seen_by_second, FIRST, clock())
    assert store.rounds(user)[-1].position == 1


# --- typed the way people type ----------------------------------------------------------------------


def test_a_count_typed_with_its_unit_is_the_answer(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, COUNT_ITEM, "line_minutes_per_day", "likes_sauna")
    user, _ = consented_fan(line)
    replies = line.text(user, "12回")
    assert texts(replies)[0].startswith("ありがとうございます！")
    line.text(user, "1時間半")
    assert store.answers(user) == {COUNT_ITEM: 12.0, "line_minutes_per_day": 90.0}


def test_a_range_or_another_period_is_refused_and_asked_again(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, COUNT_ITEM)
    user, _ = consented_fan(line)
    replies = line.text(user, "2〜3回")
    assert_asked_again(replies, "幅ではなく、ひとつの数字でお答えください（例: 3回）。", "現地でみる頻度は？")
    replies = line.text(user, "月に2回")
    assert_asked_again(replies, "1年あたりの数でお答えください（例: 3回）。", "現地でみる頻度は？")
    assert store.answers(user) == {}


# --- detours mid-round, stopping, continuing --------------------------------------------------------


def test_my_coupons_mid_round_is_answered_then_the_round_is_offered_where_it_was(
    line: LineDriver, store: Store
) -> None:
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "はい")
    replies = line.postback(user, encode("coupons"))
    assert texts(replies)[0].startswith("現在お持ちのクーポンはありません。")
    assert texts(replies)[1] == "アンケートの途中です（2/5問目）。続きに答えますか？"
    assert button_labels(last(replies)) == ["続きに答える", "今日はここまで"]
    replies = tap(line, user, last(replies), "続きに答える")
    assert texts(replies)[0].startswith("アンケートの続きです。\n\n【Q2/5】")
    assert len(store.rounds(user)) == 1


@pytest.mark.parametrize("typed", ["マイクーポン", "試合日程", "ヘルプ"])
def test_any_detour_keeps_the_round_open(line: LineDriver, store: Store, typed: str) -> None:
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "はい")
    replies = line.text(user, typed)
    assert texts(replies)[-1] == "アンケートの途中です（2/5問目）。続きに答えますか？"
    replies = start_round(line, user)
    # 「アンケート」 continues, it does not open a new 「全5問」 round.
    assert texts(replies)[0].startswith("アンケートの続きです。\n\n【Q2/5】")
    assert len(store.rounds(user)) == 1


def test_a_detour_with_buttons_of_its_own_keeps_them_last(line: LineDriver, store: Store) -> None:
    user, _ = consented_fan(line)
    replies = line.text(user, "配信停止")
    assert button_labels(last(replies)) == ["配信再開"]
    replies = line.text(user, "データ削除")
    assert button_labels(last(replies)) == ["はい、削除する", "やめる"]


@pytest.mark.parametrize("how", ["button", "typed"])
def test_stopping_mid_round_closes_it_and_keeps_the_answers(line: LineDriver, store: Store, how: str) -> None:
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "はい")
    replies = (
        tap(line, user, last(replies), "今日はここまで") if how == "button" else line.text(user, "やめる")
    )
    assert texts(replies) == [
        "アンケートを中断しました。ここまでの回答は保存されています。\n"
        "ご協力ありがとうございました！続きはいつでも、メニューの「アンケート」からどうぞ。"
    ]
    assert len(store.answers(user)) == 1
    assert store.rounds(user)[-1].closed_at is not None
    replies = line.postback(user, encode("coupons"))
    assert len(replies) == 1  # nothing left open to offer
    replies = start_round(line, user)
    assert "今回は5問です" in texts(replies)[0]


def test_continue_after_a_round_opens_the_next_one_and_stop_just_thanks(
    line: LineDriver, store: Store
) -> None:
    user, replies = consented_fan(line)
    for _ in range(5):
        replies = tap(line, user, last(replies), button_labels(last(replies))[0])
    end_of_round = last(replies)
    replies = tap(line, user, end_of_round, "今日はここまで")
    assert texts(replies) == [
        "ご協力ありがとうございました！続きはいつでも、メニューの「アンケート」からどうぞ。"
    ]
    replies = tap(line, user, end_of_round, "続けて答える")
    assert "今回は5問です" in texts(replies)[0] and "【Q1/5】" in texts(replies)[1]
    assert len(store.rounds(user)) == 2


# --- answered elsewhere meanwhile (issue 12, point 9) ------------------------------------------------


def answer_elsewhere(store: Store, user: str, item_id: str, clock: FrozenClock) -> None:
    """An answer that arrives by another way than this round (an imported file naming the fan)."""
    fan = store.fan(user)
    assert fan is not None
    with store.database.transaction() as session:
        record_answer(session, fan.id, item_id, 1, clock())


def test_a_round_skips_the_next_item_when_it_was_answered_elsewhere_meanwhile(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user, replies = consented_fan(line)
    items = store.rounds(user)[-1].items
    answer_elsewhere(store, user, items[1], clock)

    replies = tap(line, user, last(replies), button_labels(last(replies))[0])

    assert store.rounds(user)[-1].current_item_id == items[2]
    assert store.catalog[items[2]].text_ja in texts(replies)[0]
    assert store.catalog[items[1]].text_ja not in texts(replies)[0]
    assert store.answers(user)[items[1]] == 1  # the answer given elsewhere stands


def test_coming_back_to_a_round_does_not_ask_what_was_answered_meanwhile(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user, _ = consented_fan(line)
    items = store.rounds(user)[-1].items
    answer_elsewhere(store, user, items[0], clock)
    answer_elsewhere(store, user, items[1], clock)

    replies = start_round(line, user)

    assert texts(replies)[0].startswith("アンケートの続きです。")
    assert store.catalog[items[2]].text_ja in texts(replies)[0]
    assert store.rounds(user)[-1].current_item_id == items[2]


def test_a_round_whose_remaining_items_were_all_answered_elsewhere_ends_with_thanks(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user, replies = consented_fan(line)
    items = store.rounds(user)[-1].items
    for item_id in items[1:]:
        answer_elsewhere(store, user, item_id, clock)

    replies = tap(line, user, last(replies), button_labels(last(replies))[0])

    assert len(replies) == 1
    assert "これまでに5問にお答えいただきました" in texts(replies)[0]
    assert store.rounds(user)[-1].closed_at is not None
