"""The LINE webhook: signatures, body validation, redelivery, follow/consent, database failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.settings import CONSENT_VERSION, Settings
from data.consent import is_reachable
from data.models import Fan, WebhookEvent
from data.privacy import delete_fan_data
from line_emulator import events
from tests.conftest import CHANNEL_SECRET, FrozenClock
from tests.line_driver import LineDriver, postback_data, quick_replies, texts


def count(session: Session, model: type[Any]) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def follow_body(user_id: str = "U" + "1" * 32) -> bytes:
    return events.serialize(
        events.callback_body([events.follow_event(user_id, reply_token="r" * 32)], "U" + "0f" * 16)
    )


def test_missing_signature_is_rejected_and_changes_nothing(line: LineDriver, session: Session) -> None:
    response = line.post(follow_body(), signature=None)
    assert response.status_code == 400
    assert "X-Line-Signature" in response.get_json()["error"]
    assert count(session, Fan) == 0


def test_forged_signature_is_rejected_and_changes_nothing(line: LineDriver, session: Session) -> None:
    body = follow_body()
    forged = events.sign(body, "someone-elses-secret")
    response = line.post(body, signature=forged)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid signature"
    assert count(session, Fan) == 0
    assert count(session, WebhookEvent) == 0


def test_signature_over_a_tampered_body_is_rejected(line: LineDriver, session: Session) -> None:
    body = follow_body()
    signature = events.sign(body, CHANNEL_SECRET)
    response = line.post(body.replace(b"follow", b"follow "), signature=signature)
    assert response.status_code == 400
    assert count(session, Fan) == 0


@pytest.mark.parametrize("body", [b"not json at all", b"\xff\xfe\x00", b'{"events": [}'])
def test_signed_body_that_is_not_json_is_rejected(line: LineDriver, body: bytes) -> None:
    response = line.post(body, signature=events.sign(body, CHANNEL_SECRET))
    assert response.status_code == 400
    assert "malformed" in response.get_json()["error"] or "UTF-8" in response.get_json()["error"]


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"destination": "U0"},
        {"events": {"type": "follow"}},
        {"events": ["follow"]},
        {"events": [{"type": "follow"}]},
        {"events": [{"type": "message", "webhookEventId": "01J", "mode": "active", "timestamp": 1}]},
    ],
)
def test_signed_json_of_the_wrong_shape_is_rejected(
    line: LineDriver, session: Session, payload: object
) -> None:
    body = json.dumps(payload).encode()
    response = line.post(body, signature=events.sign(body, CHANNEL_SECRET))
    assert response.status_code == 400
    assert count(session, WebhookEvent) == 0


def test_connection_check_without_events_is_acknowledged(line: LineDriver) -> None:
    response = line.send()
    assert response.status_code == 200


def test_unknown_event_type_is_acknowledged_and_ignored(line: LineDriver, session: Session) -> None:
    unknown = {
        "type": "somethingNew",
        "mode": "active",
        "timestamp": 1764300000000,
        "source": {"type": "user", "userId": "U" + "2" * 32},
        "webhookEventId": events.new_ulid(),
        "deliveryContext": {"isRedelivery": False},
    }
    response = line.send(unknown)
    assert response.status_code == 200
    assert count(session, Fan) == 0


def test_follow_creates_the_fan_and_asks_for_consent(
    line: LineDriver, session: Session, clock: FrozenClock
) -> None:
    user = line.new_fan()
    replies = line.follow(user)
    assert "友だち追加ありがとうございます" in texts(replies)[0]
    labels = [action["label"] for action in quick_replies(replies[-1])]
    assert labels == ["同意する", "今はしない"]
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user)).one()
    assert fan.is_following
    assert fan.followed_at == clock()
    assert fan.consented_at is None


def test_agreeing_stores_consent_time_and_text_version(
    line: LineDriver, session: Session, clock: FrozenClock, settings: Settings
) -> None:
    user = line.new_fan()
    question = line.follow(user)[-1]
    clock.advance(minutes=2)
    replies = line.postback(user, postback_data(question, "同意する"))
    assert "ご同意ありがとうございます" in texts(replies)[0]
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user)).one()
    assert fan.consented_at == clock()
    assert fan.consent_version == settings.consent_version


def test_declining_consent_stores_nothing_but_the_refusal(line: LineDriver, session: Session) -> None:
    user = line.new_fan()
    question = line.follow(user)[-1]
    replies = line.postback(user, postback_data(question, "今はしない"))
    assert "承知しました" in texts(replies)[0]
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user)).one()
    assert fan.consented_at is None
    assert fan.consent_declined_at is not None


def test_consent_button_for_an_old_consent_text_asks_again(line: LineDriver, session: Session) -> None:
    user = line.new_fan()
    line.follow(user)
    replies = line.postback(user, "fb1:consent:yes:2019-01")
    assert "更新されました" in texts(replies)[0]
    assert [a["label"] for a in quick_replies(replies[-1])] == ["同意する", "今はしない"]
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user)).one()
    assert fan.consented_at is None


def test_replayed_event_is_acknowledged_and_not_handled_again(line: LineDriver, session: Session) -> None:
    user = line.new_fan()
    first = line.follow(user)
    delivered = len(line.state.messages_for(user))
    response = line.redeliver_last()
    assert response.status_code == 200
    assert len(first) == 2
    assert len(line.state.messages_for(user)) == delivered
    assert count(session, Fan) == 1
    assert count(session, WebhookEvent) == 1


def test_follow_from_a_deleted_fan_starts_over_with_consent(
    line: LineDriver, session: Session, clock: FrozenClock
) -> None:
    user = line.new_fan()
    line.postback(user, postback_data(line.follow(user)[-1], "同意する"))
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user)).one()
    # The real deletion, as 「データ削除」 runs it, leaves a row with no personal data.
    delete_fan_data(session, fan, clock())
    session.commit()
    replies = line.follow(user)
    assert "同意しますか" in texts(replies)[-1]
    fans = session.scalars(select(Fan).order_by(Fan.id)).all()
    assert len(fans) == 2
    assert fans[0].line_user_id is None
    assert fans[1].line_user_id == user
    assert fans[1].consented_at is None


def test_unfollow_marks_the_fan_inactive(line: LineDriver, session: Session, clock: FrozenClock) -> None:
    user = line.new_fan()
    line.follow(user)
    clock.advance(days=1)
    assert line.unfollow(user).status_code == 200
    fan = session.scalars(select(Fan).where(Fan.line_user_id == user)).one()
    assert not fan.is_following
    assert fan.unfollowed_at == clock()
    assert not is_reachable(fan, CONSENT_VERSION)


def test_refollow_after_unfollow_welcomes_back_a_consenting_fan(line: LineDriver) -> None:
    user = line.new_fan()
    line.postback(user, postback_data(line.follow(user)[-1], "同意する"))
    line.unfollow(user)
    replies = line.follow(user)
    assert "おかえりなさい" in texts(replies)[0]


def test_unrecognised_text_gets_help(line: LineDriver, fan_id: str) -> None:
    line.text(fan_id, "今日はここまで")  # no survey question waiting for an answer
    replies = line.text(fan_id, "こんにちは")
    assert "キーワード" in texts(replies)[0]


def test_reply_is_sent_with_the_events_reply_token(line: LineDriver, emulator_requests: Any) -> None:
    user = line.new_fan()
    line.follow(user)
    replies = [r for r in emulator_requests() if r.path.endswith("/v2/bot/message/reply")]
    assert len(replies) == 1
    assert replies[0].status == 200
    assert len(replies[0].json["messages"]) == 2


def test_database_down_answers_5xx_so_line_redelivers(settings: Settings, clock: FrozenClock) -> None:
    down = create_app(
        settings.with_overrides(database_url="postgresql+psycopg://postgres@127.0.0.1:1/down"), clock=clock
    )
    body = follow_body()
    response = down.test_client().post(
        "/callback", data=body, headers={"X-Line-Signature": events.sign(body, CHANNEL_SECRET)}
    )
    assert response.status_code == 503
    assert down.test_client().get("/healthz").status_code == 503
    down.extensions["fanbot.db"].dispose()


def test_database_failure_mid_batch_keeps_nothing_half_written(
    app: Flask, line: LineDriver, session: Session
) -> None:
    first, second = line.new_fan("一人目"), line.new_fan("二人目")
    line.state.set_following(first, True)
    line.state.set_following(second, True)
    first_event = events.follow_event(first, reply_token=line.token(first))
    second_event = events.follow_event(second, reply_token=line.token(second))
    engine = app.extensions["fanbot.db"].engine

    def fail_on_second(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if second in str(params):
            raise OperationalError(statement, params, Exception("connection lost"))

    event.listen(engine, "before_cursor_execute", fail_on_second)
    try:
        response = line.send(first_event, second_event)
    finally:
        event.remove(engine, "before_cursor_execute", fail_on_second)
    assert response.status_code == 503
    stored = {fan.line_user_id for fan in session.scalars(select(Fan))}
    assert stored == {first}
    # LINE redelivers the whole body: the first event is skipped, the second handled.
    assert line.redeliver_last().status_code == 200
    session.expire_all()
    assert {fan.line_user_id for fan in session.scalars(select(Fan))} == {first, second}
    assert count(session, WebhookEvent) == 2
    assert len(line.state.messages_for(first)) == 2
    assert len(line.state.messages_for(second)) == 2


def test_health_check_reports_the_database(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_same_event_delivered_twice_at_once_is_handled_once(
    app: Flask, line: LineDriver, session: Session
) -> None:
    import threading

    user = line.new_fan()
    line.state.set_following(user, True)
    body = events.serialize(
        events.callback_body([events.follow_event(user, reply_token=line.token(user))], line.destination)
    )
    signature = events.sign(body, CHANNEL_SECRET)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def deliver() -> None:
        client = app.test_client()
        start.wait()
        response = client.post("/callback", data=body, headers={"X-Line-Signature": signature})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200, 200]
    assert count(session, Fan) == 1
    assert count(session, WebhookEvent) == 1
    assert len(line.state.messages_for(user)) == 2  # one greeting + consent question, not two


def test_a_turn_with_more_than_five_replies_sends_the_first_five_in_one_reply(
    app: Flask, line: LineDriver, emulator_requests: Any
) -> None:
    from bot import messages
    from bot.dispatch import Dispatcher, Turn

    dispatcher: Dispatcher = app.extensions["fanbot.dispatcher"]

    @dispatcher.on_keyword("七通")
    def seven(turn: Turn, _text: str) -> None:
        turn.reply(*(messages.text(f"{n}通目") for n in range(1, 8)))

    user = line.new_fan()
    line.follow(user)

    replies = line.text(user, "七通")

    # LINE refuses a reply of six or more messages outright: without the cap the fan gets nothing.
    assert texts(replies) == ["1通目", "2通目", "3通目", "4通目", "5通目"]
    last = [r for r in emulator_requests() if r.path == "/v2/bot/message/reply"][-1]
    assert last.status == 200 and len(last.json["messages"]) == 5
