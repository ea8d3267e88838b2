"""The post-game job: a game's campaigns become coupons and one outbox message per fan, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.postgame import MAX_CARDS, plan_post_game, send_time
from bot.settings import Settings
from coupons.models import Campaign, Coupon
from coupons.partners import create_partner
from data.catalog import Catalog, load_catalog
from data.games import Game, import_games, mark_final, parse_games_csv, postpone
from data.models import Answer, Fan
from data.outbox import OutboxMessage

VERSION = "2026-11"
TIPOFF = datetime(2026, 11, 28, 6, 5, tzinfo=UTC)  # 15:05 in Tokyo
END = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)  # 17:30 in Tokyo
SCHEDULE = """key,tipoff,opponent,home_away,venue
home,2026-11-28 15:05,仙台89ERS,home,みちのくアリーナ
away,2026-11-29 14:05,秋田,away,CNAアリーナ
"""
SETTINGS = Settings(line_channel_secret="s", line_channel_access_token="t", testing=True)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _fan(session: Session, number: int, answers: dict[str, float], **extra: Any) -> Fan:
    fan = Fan(
        line_user_id=f"U{number:032x}",
        source="line",
        is_following=True,
        followed_at=TIPOFF - timedelta(days=3),
        consented_at=TIPOFF - timedelta(days=3),
        consent_version=VERSION,
        **extra,
    )
    session.add(fan)
    session.flush()
    session.add_all(Answer(fan_id=fan.id, item_id=k, value=v, answered_at=TIPOFF) for k, v in answers.items())
    return fan


def _campaign(session: Session, title: str, **overrides: Any) -> Campaign:
    shop = create_partner(session, name=f"{title}の店", access_code="shop-code-1", now=TIPOFF)
    values: dict[str, Any] = {
        "partner_id": shop.id,
        "title": title,
        "offer_text": f"{title}の特典",
        "valid_hours": 48,
        "total_cap": 100,
        "target_rule": {"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]},
        "holdout_share": 0.0,
        "state": "active",
        "created_at": TIPOFF,
        "updated_at": TIPOFF,
    }
    values.update(overrides)
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    return campaign


def _games(session: Session) -> tuple[Game, Game]:
    import_games(session, parse_games_csv(SCHEDULE), TIPOFF - timedelta(days=1))
    home = session.scalars(select(Game).where(Game.key == "home")).one()
    away = session.scalars(select(Game).where(Game.key == "away")).one()
    return home, away


def _payloads(session: Session) -> dict[str | None, list[dict[str, Any]]]:
    return {row.line_user_id: json.loads(row.payload) for row in session.scalars(select(OutboxMessage))}


def test_one_message_per_fan_with_up_to_three_cards_and_the_result_words(
    db_session: Session, catalog: Catalog
) -> None:
    home, away = _games(db_session)
    sento = _fan(db_session, 1, {"likes_super_sento": 1})
    other = _fan(db_session, 2, {"likes_super_sento": 0})
    for number in range(4):
        _campaign(db_session, f"c{number}", game_id=home.id, win_text="勝利！" if number == 1 else None)
    _campaign(db_session, "every home game", all_home_games=True)
    _campaign(db_session, "away only", game_id=away.id)
    _campaign(db_session, "paused", game_id=home.id, state="paused")
    mark_final(db_session, "home", "85-79", END)
    plan = plan_post_game(db_session, SETTINGS, catalog, home, END)
    db_session.commit()
    assert [c.title for c in plan.campaigns] == ["c0", "c1", "c2", "c3", "every home game"]
    assert all(c.issued == 1 for c in plan.campaigns)
    assert plan.messages == 1 and plan.send_at == END
    payloads = _payloads(db_session)
    assert list(payloads) == [sento.line_user_id] and other.line_user_id not in payloads
    words, cards = payloads[sento.line_user_id]
    assert words == {"type": "text", "text": "勝利！"}
    assert cards["type"] == "flex" and len(cards["contents"]["contents"]) == MAX_CARDS
    # All five coupons are issued (the two not shown are in マイクーポン).
    assert len(db_session.scalars(select(Coupon)).all()) == 5


def test_running_the_job_again_enqueues_nothing_new(db_session: Session, catalog: Catalog) -> None:
    home, _ = _games(db_session)
    _fan(db_session, 1, {"likes_super_sento": 1})
    _campaign(db_session, "c0", game_id=home.id)
    mark_final(db_session, "home", "70-80", END)
    first = plan_post_game(db_session, SETTINGS, catalog, home, END)
    db_session.commit()
    again = plan_post_game(db_session, SETTINGS, catalog, home, END + timedelta(minutes=5))
    db_session.commit()
    assert (first.messages, again.messages) == (1, 0)
    assert len(db_session.scalars(select(OutboxMessage)).all()) == 1
    (words, _) = next(iter(_payloads(db_session).values()))
    assert "次の試合も応援" in words["text"]  # a loss, and no loss text set


def test_quiet_hours_wait_for_the_morning_or_drop(db_session: Session, catalog: Catalog) -> None:
    late = datetime(2026, 11, 28, 13, 30, tzinfo=UTC)  # 22:30 in Tokyo
    assert send_time(late, "wait") == datetime(2026, 11, 29, 8, 0, tzinfo=send_time(late, "wait").tzinfo)  # type: ignore[union-attr]
    assert send_time(late, "drop") is None
    assert send_time(END, "drop") == END
    early = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)  # 07:00 in Tokyo
    assert send_time(early, "wait").astimezone(UTC) == datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # type: ignore[union-attr]
    home, _ = _games(db_session)
    _fan(db_session, 1, {"likes_super_sento": 1})
    waits = _campaign(db_session, "waits", game_id=home.id)
    _campaign(db_session, "drops", game_id=home.id, quiet_hours_policy="drop")
    mark_final(db_session, "home", "85-79", late)
    plan = plan_post_game(db_session, SETTINGS, catalog, home, late)
    db_session.commit()
    assert [c.dropped_quiet_hours for c in plan.campaigns] == [False, True]
    (row,) = db_session.scalars(select(OutboxMessage)).all()
    assert row.next_attempt_at == datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo
    assert db_session.scalars(select(Coupon.campaign_id)).all() == [waits.id]


def test_an_every_home_game_campaign_gives_one_coupon_per_game_up_to_its_per_fan_limit(
    db_session: Session, catalog: Catalog
) -> None:
    import_games(
        db_session,
        parse_games_csv(
            "key,tipoff,opponent,home_away\n"
            "g1,2026-11-28 15:05,仙台,home\ng2,2026-12-05 15:05,秋田,home\ng3,2026-12-12 15:05,山形,home\n"
        ),
        TIPOFF - timedelta(days=1),
    )
    fan = _fan(db_session, 1, {"likes_super_sento": 1})
    campaign = _campaign(db_session, "every home game", all_home_games=True, per_fan_limit=2)
    issued = []
    for week, key in enumerate(("g1", "g2", "g3")):
        end = END + timedelta(days=7 * week)
        game = mark_final(db_session, key, "85-79", end)
        plan = plan_post_game(db_session, SETTINGS, catalog, game, end)
        db_session.commit()
        (outcome,) = plan.campaigns
        issued.append((outcome.issued, outcome.at_limit, plan.messages))
    assert issued == [(1, 0, 1), (1, 0, 1), (0, 1, 0)]
    occasions = db_session.scalars(
        select(Coupon.occasion)
        .where(Coupon.campaign_id == campaign.id, Coupon.fan_id == fan.id)
        .order_by(Coupon.seq)
    ).all()
    games = {g.key: g.id for g in db_session.scalars(select(Game))}
    assert occasions == [f"game:{games['g1']}", f"game:{games['g2']}"]


def test_a_postponed_game_sends_nothing(db_session: Session, catalog: Catalog) -> None:
    home, _ = _games(db_session)
    _fan(db_session, 1, {"likes_super_sento": 1})
    _campaign(db_session, "c0", game_id=home.id)
    postpone(db_session, "home", TIPOFF)
    plan = plan_post_game(db_session, SETTINGS, catalog, home, END)
    assert plan.messages == 0 and plan.campaigns == []
    assert db_session.scalars(select(Coupon)).all() == []


def test_games_send_command_runs_the_job_for_a_final_game(
    database_url: str, db_session: Session, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from bot.commands.games import games

    monkeypatch.chdir(tmp_path)
    home, _ = _games(db_session)
    _fan(db_session, 1, {"likes_super_sento": 1})
    _campaign(db_session, "c0", game_id=home.id)
    db_session.commit()
    env = {"DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}
    early = CliRunner().invoke(games, ["send", "home"], env=env)
    assert early.exit_code == 1 and "まだ終了していません" in early.output
    assert CliRunner().invoke(games, ["final", "home", "--score", "85-79"], env=env).exit_code == 0
    sent = CliRunner().invoke(games, ["send", "home"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "campaign" in sent.output and "queued 1 messages" in sent.output
    db_session.expire_all()
    assert len(db_session.scalars(select(OutboxMessage)).all()) == 1


def test_sends_show_reports_each_campaign_of_the_game(
    database_url: str, db_session: Session, catalog: Catalog, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from bot.commands.sends import sends

    monkeypatch.chdir(tmp_path)
    home, _ = _games(db_session)
    for number in range(3):
        _fan(db_session, number + 1, {"likes_super_sento": 1})
    campaign_id = _campaign(db_session, "c0", game_id=home.id, holdout_share=0.34).id
    mark_final(db_session, "home", "85-79", END)
    plan_post_game(db_session, SETTINGS, catalog, home, END)
    issued = len(db_session.scalars(select(Coupon)).all())
    db_session.commit()

    shown = CliRunner().invoke(sends, ["show", "home"], env={"DATABASE_URL": database_url})
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert f"campaign {campaign_id} c0: audience 3, holdout {3 - issued}, issued {issued}, sent 0" in out
    assert f"waiting {issued}" in out and "over quota 0" in out

    refused = CliRunner().invoke(sends, ["show", "nope"], env={"DATABASE_URL": database_url})
    assert refused.exit_code == 1 and "見つかりません" in refused.output
