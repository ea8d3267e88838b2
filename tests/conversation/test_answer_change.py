"""「回答変更」: any answer is reachable, by category, page by page, or by typing part of the question."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from bot.postback import encode
from data.answers import record_answer
from tests.conftest import FrozenClock
from tests.conversation.conftest import Store, button_labels, consented_fan, last, tap, use_priority
from tests.line_driver import LineDriver, postback_data, quick_replies, texts

COUNT_ITEM = "live_games_per_year"


def answer_everything(store: Store, user: str, clock: FrozenClock) -> list[str]:
    """Answer every catalog item (1, or the item's smallest count), one minute apart."""
    fan = store.fan(user)
    assert fan is not None
    items = list(store.catalog)
    with store.database.transaction() as session:
        for minutes, item_id in enumerate(items):
            record_answer(session, fan.id, item_id, 1.0, clock() + timedelta(minutes=minutes))
    return items


def test_change_offers_categories_and_replaces_value_and_time(
    line: LineDriver, app: Flask, store: Store, clock: FrozenClock
) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento")
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "はい")
    clock.advance(minutes=1)
    tap(line, user, last(replies), "はい")
    clock.advance(minutes=10)
    menu = last(line.text(user, "回答変更"))
    assert "質問の一部（例: サウナ）を送ってください" in menu["text"]
    assert button_labels(menu)[0] == "最近の回答"
    listing = last(tap(line, user, menu, "最近の回答"))
    assert "・スーパー銭湯によく行く：はい\n・サウナが好き：はい" in listing["text"]
    assert button_labels(listing) == ["スーパー銭湯によく行く", "サウナが好き", "分野を選ぶ"]
    replies = tap(line, user, listing, "サウナが好き")
    assert "【回答の変更】（いまの回答：はい）" in texts(replies)[0]
    assert button_labels(last(replies)) == ["はい", "いいえ", "変更しない"]
    replies = tap(line, user, last(replies), "いいえ")
    assert texts(replies) == ["回答を変更しました。\nサウナが好き：はい → いいえ"]
    rows = {row.item_id: row for row in store.answer_rows(user)}
    assert rows["likes_sauna"].value == 0.0
    assert rows["likes_sauna"].answered_at == clock()
    assert len(rows) == 2


def test_every_answer_is_reachable_through_its_category_pages(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user, _ = consented_fan(line)
    items = answer_everything(store, user, clock)
    menu = last(line.text(user, "回答変更"))
    reached: set[str] = set()
    for action in quick_replies(menu)[1:]:  # every category
        page = last(line.postback(user, action["data"]))
        while True:
            actions = quick_replies(page)
            assert len(actions) <= 13 and all(len(a["label"]) <= 20 for a in actions)
            reached |= {
                a["data"].split(":")[2] for a in actions if a.get("data", "").startswith("fb1:change:")
            }
            following = [a for a in actions if a["label"] == "次へ"]
            if not following:
                break
            page = last(line.postback(user, following[0]["data"]))
    assert reached == set(items)


def test_a_category_longer_than_a_page_says_which_page(
    line: LineDriver, store: Store, clock: FrozenClock
) -> None:
    user, _ = consented_fan(line)
    answer_everything(store, user, clock)
    first = last(line.postback(user, encode("changes", "spectating", "0")))
    assert "【スポーツ観戦（1/3ページ）】" in first["text"]
    assert button_labels(first)[-2:] == ["次へ", "分野を選ぶ"]
    third = last(line.postback(user, encode("changes", "spectating", "2")))
    assert "（3/3ページ）" in third["text"] and "次へ" not in button_labels(third)


def test_typing_part_of_a_question_finds_the_answers_to_change(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento", COUNT_ITEM)
    user, replies = consented_fan(line)
    replies = tap(line, user, last(replies), "はい")
    replies = tap(line, user, last(replies), "いいえ")
    line.text(user, "回答変更")
    found = last(line.text(user, "サウナ"))
    assert found["text"].startswith("「サウナ」を含む質問への回答です。")
    assert button_labels(found) == ["サウナが好き"]
    replies = tap(line, user, found, "サウナが好き")
    replies = tap(line, user, last(replies), "いいえ")
    assert store.answers(user) == {"likes_sauna": 0.0, "likes_super_sento": 0.0}


def test_a_word_that_matches_no_answer_gets_the_usual_help(line: LineDriver, store: Store) -> None:
    user, replies = consented_fan(line)
    tap(line, user, last(replies), "はい")
    line.text(user, "回答変更")
    replies = line.text(user, "宇宙旅行")
    assert texts(replies)[0].startswith("ご利用いただけるキーワードです。")


def test_change_by_typing_a_number_with_its_unit(line: LineDriver, app: Flask, store: Store) -> None:
    use_priority(app, COUNT_ITEM)
    user, _ = consented_fan(line)
    line.text(user, "5回")
    line.text(user, "回答変更")
    found = last(line.text(user, "現地"))
    line.postback(user, postback_data(found, "現地でみる頻度は？"))
    replies = line.text(user, "８回")
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
    listing = last(line.postback(user, encode("changes", "recent", "0")))
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


def test_forged_category_or_page_is_refused(line: LineDriver, fan_id: str, store: Store) -> None:
    for category, page in (("yachts", "0"), ("spectating", "x"), ("recent", "-1")):
        replies = line.postback(fan_id, encode("changes", category, page))
        assert texts(replies)[0] == "申し訳ありません、このボタンは現在ご利用いただけません。"
    assert store.answers(fan_id) == {}


def test_recent_answers_come_newest_first(line: LineDriver, store: Store, clock: FrozenClock) -> None:
    user, _ = consented_fan(line)
    items = answer_everything(store, user, clock)
    listing = last(line.postback(user, encode("changes", "recent", "0")))
    actions = quick_replies(listing)
    assert actions[0]["data"] == encode("change", items[-1])
    assert [a["label"] for a in actions][-2:] == ["次へ", "分野を選ぶ"]


def test_change_and_the_words_in_one_message_search_even_mid_round(
    line: LineDriver, app: Flask, store: Store
) -> None:
    use_priority(app, "likes_sauna", "likes_super_sento")
    user, replies = consented_fan(line)
    tap(line, user, last(replies), "はい")  # a question about super sento now waits
    found = last(line.text(user, "回答変更　サウナ"))
    assert button_labels(found) == ["サウナが好き"]
    assert store.rounds(user)[-1].closed_at is not None  # the waiting question does not take the next text
    missing = line.text(user, "回答変更 宇宙旅行")
    assert texts(missing)[0].startswith("「宇宙旅行」を含む質問への回答は見つかりませんでした。")
    assert button_labels(last(missing))[0] == "最近の回答"
