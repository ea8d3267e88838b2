"""Shop visits: the check-in code and link, one visit per fan, shop and Tokyo day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coupons.partners import create_partner
from coupons.visits import (
    CODE_ALPHABET,
    Visit,
    checkin_code,
    checkin_link,
    checkin_text,
    parse_checkin,
    record_visit,
)
from data.models import Fan

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)  # 21:30 in Tokyo


def shop(session: Session, name: str = "仙台の湯") -> int:
    return create_partner(
        session, name=name, category="スーパー銭湯", access_code="secret-code-1", now=NOW
    ).id


def fan(session: Session) -> int:
    row = Fan(line_user_id=None, source="import", created_at=NOW)
    session.add(row)
    session.flush()
    return row.id


def visits(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Visit)) or 0)


def test_a_shop_keeps_one_readable_code(db_session: Session) -> None:
    partner = shop(db_session)
    code = checkin_code(db_session, partner, NOW)
    assert len(code) == 8
    assert set(code) <= set(CODE_ALPHABET)
    assert checkin_code(db_session, partner, NOW) == code
    assert checkin_code(db_session, shop(db_session, "別の店"), NOW) != code


def test_the_link_is_lines_oa_message_scheme_and_round_trips(db_session: Session) -> None:
    text = checkin_text("ABCD2345", "仙台の湯")
    link = checkin_link("@fanbot", text)
    assert link.startswith("https://line.me/R/oaMessage/%40fanbot/?")
    assert unquote(link.split("/?", 1)[1]) == "来店チェックイン ABCD2345 仙台の湯"
    assert parse_checkin(text) == "ABCD2345"
    assert parse_checkin("来店チェックイン：abcd2345") == "ABCD2345"  # typed by hand, lower case
    assert parse_checkin("ｱﾝｹｰﾄ") is None
    assert parse_checkin("来店チェックイン ABC") is None


def test_one_visit_per_fan_shop_and_tokyo_day(db_session: Session) -> None:
    partner = shop(db_session)
    code = checkin_code(db_session, partner, NOW)
    someone = fan(db_session)
    first = record_visit(db_session, someone, code, NOW)
    assert first is not None and first.recorded and first.partner_name == "仙台の湯"
    again = record_visit(db_session, someone, code, NOW + timedelta(hours=2))  # 23:30 Tokyo: same day
    assert again is not None and not again.recorded
    assert visits(db_session) == 1
    tomorrow = record_visit(db_session, someone, code, NOW + timedelta(hours=3))  # 00:30 Tokyo: next day
    assert tomorrow is not None and tomorrow.recorded
    assert visits(db_session) == 2
    other_shop = checkin_code(db_session, shop(db_session, "別の店"), NOW)
    assert record_visit(db_session, someone, other_shop, NOW) is not None
    assert visits(db_session) == 3


def test_an_unknown_code_records_nothing(db_session: Session) -> None:
    assert record_visit(db_session, fan(db_session), "ZZZZ9999", NOW) is None
    assert visits(db_session) == 0


def test_deleting_a_fan_removes_their_visits(db_session: Session) -> None:
    code = checkin_code(db_session, shop(db_session), NOW)
    someone = fan(db_session)
    record_visit(db_session, someone, code, NOW)
    db_session.delete(db_session.get(Fan, someone))
    db_session.flush()
    assert visits(db_session) == 0
