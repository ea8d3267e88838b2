"""Arbitrary taps and text never crash the webhook and never store an invalid answer."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.postback import KINDS
from line_emulator import events
from tests.conversation.conftest import Store, consented_fan
from tests.line_driver import LineDriver, quick_replies

SOME_ITEMS = ["likes_sauna", "likes_super_sento", "live_games_per_year", "drinking_days_per_week", "nope", ""]
KEYWORDS = ["アンケート", "回答変更", "配信停止", "配信再開", "データ削除", "設定", "スキップ", "はい"]

field = st.one_of(
    st.sampled_from(SOME_ITEMS),
    st.integers(-3, 400).map(str),
    st.sampled_from(["1", "0", "yes", "no", "nan", "inf", "1e400", "１２", "2.5", "-0"]),
    st.text(max_size=12).filter(lambda s: ":" not in s),
)
shaped_postback = st.builds(
    lambda kind, args: ":".join(["fb1", kind, *args]),
    st.sampled_from([*KINDS, "bogus"]),
    st.lists(field, max_size=4),
)
postback_data = st.one_of(shaped_postback, st.text(max_size=320))
typed_text = st.one_of(st.sampled_from(KEYWORDS), st.integers(-10, 2000).map(str), st.text(max_size=200))

# (who, what, payload): who indexes the cast below; "tap" presses a button the bot really sent.
action = st.one_of(
    st.tuples(st.integers(0, 2), st.just("postback"), postback_data),
    st.tuples(st.integers(0, 2), st.just("text"), typed_text),
    st.tuples(st.integers(0, 2), st.just("tap"), st.integers(0, 12)),
)


def check_stored_answers(store: Store) -> None:
    for item_id, value, consented_at, deleted_at in store.all_answers():
        assert item_id in store.catalog, item_id
        assert store.catalog[item_id].accepts(value), (item_id, value)
        assert consented_at is not None and deleted_at is None


def test_arbitrary_events_never_crash_and_never_store_invalid_answers(line: LineDriver, store: Store) -> None:
    cast: list[str] = []

    def ensure_cast() -> None:
        # A consented fan (re-made if a random tap deleted them), one who never consented,
        # and a LINE friend fanbot has no record of.
        if not cast:
            cast.extend([consented_fan(line, "プロパティ")[0], line.new_fan("未同意"), line.new_fan("不明")])
            line.follow(cast[1])
            line.state.set_following(cast[2], True)
        elif store.fan(cast[0]) is None:
            cast[0] = consented_fan(line, "プロパティ")[0]

    def last_buttons(user: str) -> list[dict[str, Any]]:
        delivered = line.state.messages_for(user)
        return quick_replies(delivered[-1]) if delivered else []

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(action, min_size=1, max_size=3))
    def run(actions: list[tuple[int, str, Any]]) -> None:
        ensure_cast()
        for who, what, payload in actions:
            user = cast[who]
            if what == "tap":
                buttons = last_buttons(user)
                if not buttons:
                    continue
                button = buttons[payload % len(buttons)]
                if button["type"] == "postback":
                    event = events.postback_event(user, button["data"], reply_token=line.token(user))
                else:
                    event = events.text_message_event(user, button["text"], reply_token=line.token(user))
            elif what == "postback":
                event = events.postback_event(user, payload, reply_token=line.token(user))
            else:
                event = events.text_message_event(user, payload, reply_token=line.token(user))
            response = line.send(event)
            assert response.status_code == 200, response.get_data(as_text=True)
        check_stored_answers(store)

    run()
    check_stored_answers(store)
