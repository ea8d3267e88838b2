"""A fan checks in at a shop by sending the text its QR code pre-fills; the bot records it and thanks them."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coupons.partners import create_partner
from coupons.visits import Visit, checkin_code, checkin_text
from tests.conftest import FrozenClock
from tests.line_driver import LineDriver


def shop_text(app: Flask, clock: FrozenClock) -> str:
    with app.extensions["fanbot.db"].transaction() as db:
        partner = create_partner(db, name="仙台の湯", access_code="secret-code-1", now=clock())
        return checkin_text(checkin_code(db, partner.id, clock()), partner.name)


def texts(replies: list[dict]) -> str:  # type: ignore[type-arg]
    return " ".join(str(reply.get("text", "")) for reply in replies)


def visits(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(Visit)) or 0)


def test_a_consented_fan_checks_in_once_a_day(
    app: Flask, line: LineDriver, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    text = shop_text(app, clock)
    assert "来店を記録しました" in texts(line.text(fan_id, text))
    assert "記録済み" in texts(line.text(fan_id, text))
    assert visits(session) == 1
    clock.advance(days=1)
    assert "来店を記録しました" in texts(line.text(fan_id, text))
    assert visits(session) == 2


def test_a_check_in_mid_survey_is_a_check_in_not_an_answer(
    app: Flask, line: LineDriver, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    text = shop_text(app, clock)
    line.text(fan_id, "アンケート")
    replies = texts(line.text(fan_id, text))
    assert "仙台の湯へのご来店ありがとうございます" in replies
    assert visits(session) == 1


def test_an_unknown_code_is_answered_politely(line: LineDriver, fan_id: str, session: Session) -> None:
    assert "見つかりませんでした" in texts(line.text(fan_id, "来店チェックイン ZZZZ9999 どこかの店"))
    assert visits(session) == 0


def test_without_consent_nothing_is_recorded(
    app: Flask, line: LineDriver, session: Session, clock: FrozenClock
) -> None:
    text = shop_text(app, clock)
    user = line.new_fan("未同意")
    line.follow(user)
    replies = texts(line.text(user, text))
    assert "同意が必要です" in replies
    assert visits(session) == 0


def test_deleting_my_data_removes_my_visits(
    app: Flask, line: LineDriver, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    from tests.line_driver import postback_data

    line.text(fan_id, shop_text(app, clock))
    assert visits(session) == 1
    replies = line.text(fan_id, "データ削除")
    line.postback(fan_id, postback_data(replies[-1], "はい、削除する"))
    assert visits(session) == 0
