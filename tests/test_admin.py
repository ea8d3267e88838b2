"""Marketers' pages: sign-in, CSRF, dashboard counts, fans and their answers."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.answers import record_answer
from data.models import Fan, StaffUser
from data.staff import StaffError, authenticate, create_staff_user
from tests.conftest import MARKETER_EMAIL, MARKETER_PASSWORD, FrozenClock, form_csrf
from tests.line_driver import LineDriver


def test_pages_require_sign_in(client: FlaskClient) -> None:
    for path in ("/admin/", "/admin/fans", "/admin/fans/1", "/admin/survey"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/login")


def test_wrong_password_is_refused_in_japanese(client: FlaskClient, marketer: StaffUser) -> None:
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"csrf": token, "email": MARKETER_EMAIL, "password": "nope"})
    assert response.status_code == 401
    assert "メールアドレスかパスワードが違います" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient, marketer: StaffUser) -> None:
    response = client.post("/admin/login", data={"email": MARKETER_EMAIL, "password": MARKETER_PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_login_never_redirects_to_another_site(client: FlaskClient, marketer: StaffUser) -> None:
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login?next=//evil.example/phish",
        data={"csrf": token, "email": MARKETER_EMAIL, "password": MARKETER_PASSWORD},
    )
    assert response.headers["Location"] == "/admin/"


def test_dashboard_counts_fans_consent_and_answers(
    admin_client: FlaskClient, line: LineDriver, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    line.follow(line.new_fan("未同意さん"))
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert 'id="line-fans">2<' in html
    assert 'id="following">2<' in html
    assert 'id="consented">1<' in html
    assert 'id="reachable">1<' in html


def test_fan_list_and_detail_show_stored_answers(
    admin_client: FlaskClient, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    fan = session.scalars(select(Fan).where(Fan.line_user_id == fan_id)).one()
    record_answer(session, fan.id, "likes_super_sento", 1.0, clock())
    record_answer(session, fan.id, "live_games_per_year", 12.0, clock())
    session.commit()
    listing = admin_client.get("/admin/fans?source=line").get_data(as_text=True)
    assert f'/admin/fans/{fan.id}"' in listing
    detail = admin_client.get(f"/admin/fans/{fan.id}").get_data(as_text=True)
    assert "スーパー銭湯" in detail
    assert "はい" in detail
    assert ">12回<" in detail  # with the catalog's unit
    assert "2026-11-28 21:30" in detail  # stored in UTC, shown in Asia/Tokyo


def test_unknown_fan_page_is_not_found(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/fans/999999").status_code == 404


def test_bad_filter_is_a_clear_error(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/fans?source=everyone")
    assert response.status_code == 400


def test_logout_needs_the_form_token_and_ends_the_session(admin_client: FlaskClient) -> None:
    assert admin_client.post("/admin/logout").status_code == 400
    assert admin_client.get("/admin/").status_code == 200
    token = form_csrf(admin_client.get("/admin/").get_data(as_text=True))
    assert admin_client.post("/admin/logout", data={"csrf": token}).status_code == 302
    assert admin_client.get("/admin/").status_code == 302


def test_survey_page_lists_every_catalog_item(admin_client: FlaskClient, app: Flask) -> None:
    html = admin_client.get("/admin/survey").get_data(as_text=True)
    assert html.count('title="項目ID: ') == len(app.extensions["fanbot.catalog"])


def test_survey_page_shows_questions_and_means_with_units_not_internal_keys(
    admin_client: FlaskClient, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    fan = session.scalars(select(Fan).where(Fan.line_user_id == fan_id)).one()
    record_answer(session, fan.id, "live_games_per_year", 12.0, clock())
    record_answer(session, fan.id, "line_minutes_per_day", 90.0, clock())
    session.commit()
    html = admin_client.get("/admin/survey").get_data(as_text=True)
    visible = re.sub(r'title="[^"]*"|name="[^"]*"|id="[^"]*"', "", html)
    assert "interested_pro_baseball" not in visible and "times_per_year" not in visible
    assert "平均 12.0 回/年" in html and "平均 90.0 分/日" in html


def test_staff_account_rules(db_session: Session, clock: FrozenClock) -> None:
    with pytest.raises(StaffError, match="at least"):
        create_staff_user(db_session, "a@example.com", "A", "short", now=clock())
    with pytest.raises(StaffError, match="e-mail"):
        create_staff_user(db_session, "not-an-address", "A", "long enough password", now=clock())
    create_staff_user(db_session, "A@Example.com ", "A", "long enough password", now=clock())
    with pytest.raises(StaffError, match="already exists"):
        create_staff_user(db_session, "a@example.com", "A", "another long password", now=clock())
    assert authenticate(db_session, "a@example.com", "long enough password", now=clock()) is not None
    assert authenticate(db_session, "a@example.com", "wrong password!!", now=clock()) is None
    assert authenticate(db_session, "b@example.com", "long enough password", now=clock()) is None


def test_staff_create_command_makes_an_account_that_can_sign_in(
    database_url: str, db_session: Session, clock: FrozenClock
) -> None:
    from click.testing import CliRunner

    from bot.commands.staff import staff

    env = {"DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}
    runner = CliRunner()
    result = runner.invoke(
        staff, ["create", "new@example.com", "--name", "新人", "--password", "a long password"], env=env
    )
    assert result.exit_code == 0, result.output
    assert authenticate(db_session, "new@example.com", "a long password", now=clock()) is not None
    db_session.rollback()  # release SQLite's write lock before the command opens its own connection
    again = runner.invoke(
        staff, ["create", "new@example.com", "--name", "新人", "--password", "a long password"], env=env
    )
    assert again.exit_code != 0
    assert "already exists" in again.output
    admin = runner.invoke(
        staff,
        ["create", "boss@example.com", "--name", "管理", "--role", "admin", "--password", "a long password"],
        env=env,
    )
    assert admin.exit_code == 0, admin.output
    assert "created admin account" in admin.output
    user = authenticate(db_session, "boss@example.com", "a long password", now=clock())
    assert user is not None
    assert user.role == "admin"


def test_dashboard_draws_answers_per_day_and_coverage(
    admin_client: FlaskClient, fan_id: str, session: Session, clock: FrozenClock
) -> None:
    fan = session.scalars(select(Fan).where(Fan.line_user_id == fan_id)).one()
    record_answer(session, fan.id, "likes_super_sento", 1.0, clock())
    record_answer(session, fan.id, "likes_sauna", 1.0, clock())
    session.commit()
    html = admin_client.get("/admin/").get_data(as_text=True)
    assert "<svg" in html
    assert "<title>11月28日（土）: 2件</title>" in html
    assert "合計 2件" in html
    assert 'id="respondents">1<' in html


def test_dashboard_shows_the_next_game_in_tokyo_time(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    from data.games import import_games, parse_games_csv

    empty = admin_client.get("/admin/").get_data(as_text=True)
    assert "予定されている試合はありません。" in empty
    schedule = "key,tipoff,opponent,home_away,venue\n"
    schedule += "g1,2026-12-06 14:05,仙台89ERS,away,ゼビオアリーナ仙台\n"
    schedule += "g0,2026-12-05 15:05,秋田ノーザンハピネッツ,home,みちのくアリーナ\n"
    import_games(session, parse_games_csv(schedule), clock())
    session.commit()
    html = admin_client.get("/admin/").get_data(as_text=True)
    section = html[html.index('id="next-game"') :]
    assert "2026-12-05 15:05" in section  # the clock stands at 2026-11-28
    assert "ホーム vs 秋田ノーザンハピネッツ" in section


def test_dashboard_counts_coupons_issued_and_redeemed_since_monday_in_japan(
    admin_client: FlaskClient, session: Session, clock: FrozenClock, fan_id: str
) -> None:
    from datetime import timedelta

    from coupons.issue import issue_coupon
    from coupons.models import Campaign
    from coupons.partners import create_partner
    from coupons.redeem import redeem

    # The clock stands at Saturday 2026-11-28 21:30 JST; the week began Monday 11-23 0:00 JST.
    shop = create_partner(session, name="湯の郷", access_code="sento-2026", now=clock())
    fan = session.scalars(select(Fan).where(Fan.line_user_id == fan_id)).one()
    codes = []
    for number, issued_at in enumerate(
        (clock(), clock() - timedelta(days=5, hours=6), clock() - timedelta(days=6))
    ):
        campaign = Campaign(
            partner_id=shop.id,
            title=f"c{number}",
            offer_text="x",
            valid_hours=24 * 30,
            total_cap=5,
            target_rule={},
            state="active",
            created_at=clock(),
            updated_at=clock(),
        )
        session.add(campaign)
        session.flush()
        coupon = issue_coupon(session, campaign.id, fan.id, issued_at).coupon
        assert coupon is not None
        codes.append(coupon.code)
    assert redeem(session, codes[0], shop.id, clock()).ok
    session.commit()
    html = admin_client.get("/admin/").get_data(as_text=True)
    # 2026-11-23 15:30 JST (Monday) counts, 2026-11-22 21:30 JST (Sunday) does not.
    assert re.search(r'id="coupons-issued">2<', html)
    assert re.search(r'id="coupons-redeemed">1<', html)
