"""Answering the survey in chat: rounds, buttons, typed numbers, stale and forged taps, changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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
from tests.conversation.conftest import Store, button_labels, consented_fan, last, tap
from tests.line_driver import LineDriver, postback_data, quick_replies, texts

FIRST = DEFAULT_PRIORITY_ITEMS[0]  # watches_sports_live_yearly, yes/no
COUNT_ITEM = "live_games_per_year"  # count, times_per_year, max 365


def start_round(line: LineDriver, user: str) -> list[dict[str, Any]]:
    return line.text(user, "アンケート")


def round_until(line: LineDriver, store: Store, user: str, item_id: str) -> dict[str, Any]:
    """Start a round with ``item_id`` first and return the message asking it."""
    replies = start_round(line, user)
    assert store.rounds(user)[-1].current_item_id == item_id
    return last(replies)


def use_priority(app: Flask, *items: str) -> None:
    install_priority_provider(app, lambda _session: list(items))


# --- a round ----------------------------------------------------------------------------------------


def test_consent_reply_already_asks_the_first_question(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    assert texts(replies)[0] == "ご同意ありがとうございます！"
    assert "全5問" in texts(replies)[1]
    assert "【Q1/5】" in texts(replies)[2]
    assert button_labels(last(replies)) == ["はい", "いいえ", "スキップ"]
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
    assert "これまでに5問にお答えいただいています" in texts(replies)[0]
    assert "「アンケート」と送ってください" in texts(replies)[0]
    assert [a["text"] for a in quick_replies(replies[0])] == ["アンケート"]
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


def test_rich_menu_survey_button_starts_a_round(line: LineDriver, fan_id: str, store: Store) -> None:
    replies = line.postback(fan_id, encode("survey"))
    assert "【Q1/5】" in texts(replies)[-1]
    assert len(store.rounds(fan_id)) == 2  # the consent round was closed by the new one
    assert store.rounds(fan_id)[0].closed_at is not None


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
    assert button_labels(days) == ["0日", "1日", "2日", "3日", "4日", "5日", "6日", "7日", "スキップ"]
    assert "0〜7の数字" in days["text"]
    replies = tap(line, user, days, "3日")
    yearly = last(replies)
    labels = button_labels(yearly)
    assert labels[-1] == "スキップ" and "100回" in labels
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
    assert button_labels(replies[1])[-1] == "スキップ"


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
    assert texts(replies)[0].startswith("ご利用いただけるキーワードです。")
    assert store.answers(user) == {COUNT_ITEM: 1.0}
    assert store.rounds(user)[-1].position == 1


def test_chat_during_a_yes_no_question_gets_help_and_stores_nothing(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna")
    user, _ = consented_fan(line)
    replies = line.text(user, "こんにちは")
    assert texts(replies)[0].startswith("ご利用いただけるキーワードです。")
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


def test_skipped_items_sit_out_one_round_then_may_come_back(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna")
    user, replies = consented_fan(line)
    survey_round = store.rounds(user)[-1]
    for _ in survey_round.items:
        replies = tap(line, user, last(replies), "スキップ")
    start_round(line, user)
    second = store.rounds(user)[-1]
    assert not set(second.items) & set(survey_round.items)
    start_round(line, user)
    third = store.rounds(user)[-1]
    assert third.items[0] == "likes_sauna"


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
    start_round(line, user)  # closes the first round; likes_sauna is asked again in the new one
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
        assert texts(replies) == ["申し訳ありません、このボタンは現在ご利用いただけません。"]
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
    with store.database.transaction() as session:
        for item_id in store.catalog:
            if item_id != FIRST:
                record_answer(session, fan.id, item_id, 0.0, clock())
    replies = start_round(line, user)
    assert "全1問" in texts(replies)[0]
    replies = tap(line, user, last(replies), "はい")
    assert f"全{len(store.catalog)}問すべてにお答えいただきました" in texts(replies)[0]
    replies = start_round(line, user)
    assert "すべての質問" in texts(replies)[0]
    assert [a["text"] for a in quick_replies(replies[0])] == ["回答変更"]


# --- changing an answer ----------------------------------------------------------------------------


def test_change_lists_recent_answers_and_replaces_value_and_time(
    line: LineDriver, app: Flask, store: Store, clock: FrozenClock
) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento")
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "はい")
    clock.advance(minutes=1)
    tap(line, user, last(replies), "はい")
    clock.advance(minutes=10)
    replies = line.text(user, "回答変更")
    listing = last(replies)
    assert "・スーパー銭湯によく行く：はい\n・サウナが好き：はい" in listing["text"]
    assert button_labels(listing) == ["スーパー銭湯によく行く", "サウナが好き"]
    replies = tap(line, user, listing, "サウナが好き")
    assert "【回答の変更】（いまの回答：はい）" in texts(replies)[0]
    assert button_labels(last(replies)) == ["はい", "いいえ", "変更しない"]
    replies = tap(line, user, last(replies), "いいえ")
    assert texts(replies) == ["回答を変更しました。\nサウナが好き：はい → いいえ"]
    rows = {row.item_id: row for row in store.answer_rows(user)}
    assert rows["likes_sauna"].value == 0.0
    assert rows["likes_sauna"].answered_at == clock()
    assert len(rows) == 2


def test_change_by_typing_a_number(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, COUNT_ITEM)
    user, _ = consented_fan(line)
    line.text(user, "5")
    listing = last(line.text(user, "回答を変更"))
    line.postback(user, postback_data(listing, "現地でみる頻度は？"))
    replies = line.text(user, "８")
    assert texts(replies) == ["回答を変更しました。\n現地でみる頻度は？：5回 → 8回"]
    assert store.answers(user) == {COUNT_ITEM: 8.0}


def test_keeping_the_answer_in_a_change_changes_nothing(
    line: LineDriver, app: Flask, store: Store, clock: FrozenClock
) -> None:
    use_priority(app, "likes_sauna")
    user, replies = consented_fan(line)
    tap(line, user, last(replies), "はい")
    answered_at = store.answer_rows(user)[0].answered_at
    clock.advance(minutes=5)
    listing = last(line.text(user, "回答変更"))
    replies = tap(line, user, listing, "サウナが好き")
    replies = tap(line, user, last(replies), "変更しない")
    assert texts(replies) == ["回答は変更しませんでした。"]
    assert store.answer_rows(user)[0].answered_at == answered_at


def test_change_with_nothing_answered_invites_to_the_survey(line: LineDriver, fan_id: str) -> None:
    replies = line.text(fan_id, "回答変更")
    assert texts(replies) == ["まだ回答がありません。「アンケート」と送ってお答えください。"]


def test_change_tap_for_an_unanswered_item_is_refused(line: LineDriver, fan_id: str, store: Store) -> None:
    replies = line.postback(fan_id, encode("change", "likes_camping"))
    assert "まだお答えいただいていません" in texts(replies)[0]
    assert store.answers(fan_id) == {}


def test_change_list_shows_at_most_twelve_recent_answers(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user, _ = consented_fan(line)
    fan = store.fan(user)
    assert fan is not None
    items = list(store.catalog)[:15]
    with store.database.transaction() as session:
        for minutes, item_id in enumerate(items):
            record_answer(session, fan.id, item_id, 1.0, clock() + timedelta(minutes=minutes))
    listing = last(line.text(user, "回答変更"))
    actions = quick_replies(listing)
    assert len(actions) == 12
    assert actions[0]["data"] == encode("change", items[-1])
    assert all(len(a["label"]) <= 20 for a in actions)


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
