"""The scoring run and ``campaigns send``: scores with reasons, coupons pushed exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.commands.coupons import campaigns
from bot.commands.segments import segments
from bot.coupon_delivery import CampaignSendError, send_campaign
from bot.line_client import LineClient
from bot.scoring import run_scoring
from bot.settings import Settings
from coupons.audience import eligible_fans
from coupons.models import Campaign, Coupon, LookalikeScore, Partner
from coupons.partners import create_partner
from coupons.rules import parse_rule
from data.catalog import Catalog, load_catalog
from data.demo import load_demo_data
from data.models import Answer, Fan
from segmentation.lookalike import LookalikeError
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET, RunningEmulator

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
VERSION = "2026-11"
PUSH = "/v2/bot/message/push"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _line_fan(
    session: Session, emulator: RunningEmulator, name: str, answers: dict[str, float], **extra: Any
) -> Fan:
    user = emulator.state.create_user(name)
    emulator.state.set_following(user.user_id, True)
    fan = Fan(
        line_user_id=user.user_id,
        source="line",
        is_following=True,
        followed_at=NOW - timedelta(days=3),
        consented_at=NOW - timedelta(days=3),
        consent_version=VERSION,
        **extra,
    )
    session.add(fan)
    session.flush()
    session.add_all(Answer(fan_id=fan.id, item_id=k, value=v, answered_at=NOW) for k, v in answers.items())
    return fan


def _campaign(session: Session, **overrides: Any) -> Campaign:
    shop = create_partner(session, name="湯の郷 アリーナ前店", access_code="sento-2026", now=NOW)
    values: dict[str, Any] = {
        "partner_id": shop.id,
        "title": "試合後の入浴 200円引き",
        "offer_text": "入館料から200円引き",
        "terms": "お一人様1回限り",
        "valid_hours": 48,
        "total_cap": 100,
        "target_rule": {"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]},
        "holdout_share": 0.0,
        "state": "active",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    return campaign


def test_scoring_stores_a_score_with_reasons_for_every_fan_and_the_runs_auc(
    db_session: Session, catalog: Catalog
) -> None:
    load_demo_data(db_session, catalog, respondents=400)
    db_session.commit()
    run = run_scoring(db_session, catalog, "likes_super_sento", VERSION, NOW)
    db_session.commit()
    stored = db_session.scalars(select(LookalikeScore)).all()
    assert run.scored == len(stored) == 400
    fans = db_session.scalar(select(func.count()).select_from(Fan)) or 0
    answered_sento = (
        db_session.scalar(
            select(func.count()).select_from(Answer).where(Answer.item_id == "likes_super_sento")
        )
        or 0
    )
    assert run.unanswered == fans - answered_sento > 0
    # The demo data carries the source finding, so the model ranks better than chance.
    assert run.auc is not None and run.auc > 0.55
    assert {s.auc for s in stored} == {run.auc} and {s.run_at for s in stored} == {NOW}
    assert all(0.0 <= s.score <= 1.0 for s in stored)
    reasons = next(s.reasons for s in stored if s.reasons)
    assert 1 <= len(reasons) <= 3 and {"item", "text_ja", "answer", "contribution"} <= set(reasons[0])
    assert abs(reasons[0]["contribution"]) >= abs(reasons[-1]["contribution"])
    # A fan who never answered the partner's question can now be reached through the score:
    # make the best- and worst-scored of those fans LINE fans, and only the best one matches.
    answered = select(Answer.fan_id).where(Answer.item_id == "likes_super_sento")
    unanswered = sorted(
        (s for s in stored if s.fan_id not in set(db_session.scalars(answered))), key=lambda s: s.score
    )
    low, high = unanswered[0], unanswered[-1]
    for number, scored in enumerate((low, high)):
        fan = db_session.get(Fan, scored.fan_id)
        assert fan is not None
        fan.line_user_id, fan.source, fan.is_following = f"U{number:032x}", "line", True
        fan.consented_at, fan.consent_version = NOW, VERSION
    db_session.commit()
    threshold = (low.score + high.score) / 2
    rule = parse_rule(
        {
            "all": [{"item": "likes_super_sento", "op": "=", "value": 1}],
            "lookalike": {"item": "likes_super_sento", "min_score": threshold},
        },
        catalog,
    )
    matched = eligible_fans(db_session, Campaign(id=1, holdout_share=0.0), rule, VERSION)
    assert [(e.fan_id, e.matched_by) for e in matched] == [(high.fan_id, "lookalike")]


@pytest.mark.parametrize(
    ("item", "message"),
    [("no_such_item", "アンケートの項目にありません"), ("live_games_per_year", "はい/いいえ")],
)
def test_scoring_refuses_an_unknown_or_non_yes_no_item(
    db_session: Session, catalog: Catalog, item: str, message: str
) -> None:
    with pytest.raises(LookalikeError, match=message):
        run_scoring(db_session, catalog, item, VERSION, NOW)


def test_segments_score_command(
    database_url: str, db_session: Session, catalog: Catalog, tmp_path: Path
) -> None:
    load_demo_data(db_session, catalog, respondents=200)
    db_session.commit()
    result = CliRunner().invoke(segments, ["score", "likes_super_sento"], env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    assert "scored 200 fans" in result.output and "AUC" in result.output
    refused = CliRunner().invoke(segments, ["score", "nope"], env={"DATABASE_URL": database_url})
    assert refused.exit_code == 1 and "アンケートの項目にありません" in refused.output


def test_send_pushes_one_card_to_each_matched_reachable_fan_and_a_rerun_sends_nothing_more(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    emulator: RunningEmulator,
    catalog: Catalog,
) -> None:
    with factory() as session, session.begin():
        fans = [_line_fan(session, emulator, f"ファン{i}", {"likes_super_sento": 1}) for i in range(3)]
        other = _line_fan(session, emulator, "銭湯に行かない", {"likes_super_sento": 0})
        stopped = _line_fan(session, emulator, "配信停止", {"likes_super_sento": 1}, opted_out_at=NOW)
        campaign_id = _campaign(session).id
    report = send_campaign(factory, line_client, settings, catalog, campaign_id, NOW)
    assert (report.eligible, report.issued, report.sent) == (3, 3, 3)
    for fan in fans:
        (card,) = emulator.state.messages_for(fan.line_user_id or "")
        assert card["type"] == "flex" and "入館料から200円引き" in json.dumps(card, ensure_ascii=False)
    assert emulator.state.messages_for(other.line_user_id or "") == []
    assert emulator.state.messages_for(stopped.line_user_id or "") == []
    again = send_campaign(factory, line_client, settings, catalog, campaign_id, NOW + timedelta(minutes=5))
    assert (again.issued, again.already, again.sent) == (0, 3, 0)
    assert all(len(emulator.state.messages_for(f.line_user_id or "")) == 1 for f in fans)


def test_with_a_per_fan_limit_of_two_a_send_the_next_day_gives_a_second_coupon_then_no_more(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    emulator: RunningEmulator,
    catalog: Catalog,
) -> None:
    with factory() as session, session.begin():
        fan = _line_fan(session, emulator, "ファン", {"likes_super_sento": 1})
        campaign = _campaign(session)
        campaign.per_fan_limit = 2
        campaign_id = campaign.id
    days = [NOW, NOW + timedelta(hours=2), NOW + timedelta(days=1), NOW + timedelta(days=2)]
    reports = [send_campaign(factory, line_client, settings, catalog, campaign_id, day) for day in days]
    assert [(r.issued, r.already, r.at_limit, r.sent) for r in reports] == [
        (1, 0, 0, 1),
        (0, 1, 0, 0),  # the same Tokyo day: nothing new
        (1, 0, 0, 1),
        (0, 0, 1, 0),
    ]
    cards = [json.dumps(c, ensure_ascii=False) for c in emulator.state.messages_for(fan.line_user_id or "")]
    with factory() as session:
        codes = session.scalars(select(Coupon.code).where(Coupon.fan_id == fan.id).order_by(Coupon.seq)).all()
    assert len(cards) == len(codes) == 2
    assert all(code in card for code, card in zip(codes, cards, strict=True))


def test_a_server_error_then_success_delivers_once_and_a_lost_answer_is_not_sent_twice(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    emulator: RunningEmulator,
    catalog: Catalog,
) -> None:
    with factory() as session, session.begin():
        first = _line_fan(session, emulator, "一人目", {"likes_super_sento": 1})
        second = _line_fan(session, emulator, "二人目", {"likes_super_sento": 1})
        campaign_id = _campaign(session).id
    emulator.state.inject_failures(PUSH, [500])
    emulator.state.inject_failures(PUSH, [500], after_accept=True)
    report = send_campaign(factory, line_client, settings, catalog, campaign_id, NOW, sleep=lambda _: None)
    assert report.sent == 2 and not report.failed
    assert len(emulator.state.messages_for(first.line_user_id or "")) == 1
    assert len(emulator.state.messages_for(second.line_user_id or "")) == 1


def test_a_push_failing_for_good_is_reported_and_sent_on_the_next_run(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    emulator: RunningEmulator,
    catalog: Catalog,
) -> None:
    with factory() as session, session.begin():
        fan = _line_fan(session, emulator, "一人目", {"likes_super_sento": 1})
        campaign_id = _campaign(session).id
    emulator.state.inject_failures(PUSH, [500, 503, 500, 502])
    report = send_campaign(factory, line_client, settings, catalog, campaign_id, NOW, sleep=lambda _: None)
    assert report.sent == 0 and sum(report.failed.values()) == 1
    with factory() as session:
        assert session.scalars(select(Coupon.sent_at)).one() is None
    later = send_campaign(factory, line_client, settings, catalog, campaign_id, NOW, sleep=lambda _: None)
    assert later.sent == 1 and len(emulator.state.messages_for(fan.line_user_id or "")) == 1


def test_a_fan_who_opts_out_between_issue_and_push_is_not_pushed(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    emulator: RunningEmulator,
    catalog: Catalog,
) -> None:
    with factory() as session, session.begin():
        fan = _line_fan(session, emulator, "一人目", {"likes_super_sento": 1})
        campaign_id = _campaign(session).id
    emulator.state.inject_failures(PUSH, [500, 500, 500, 500])
    no_wait = {"sleep": lambda _: None}
    first = send_campaign(factory, line_client, settings, catalog, campaign_id, NOW, **no_wait)
    assert first.issued == 1 and first.sent == 0
    with factory() as session, session.begin():
        stored = session.get(Fan, fan.id)
        assert stored is not None
        stored.opted_out_at = NOW
    later = send_campaign(factory, line_client, settings, catalog, campaign_id, NOW, **no_wait)
    assert (later.sent, later.not_reachable) == (0, 1)
    assert emulator.state.messages_for(fan.line_user_id or "") == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"state": "paused"}, "配信中ではありません"), ({"state": "draft"}, "配信中ではありません")],
)
def test_send_refuses_a_campaign_that_is_not_sendable(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    catalog: Catalog,
    overrides: dict[str, Any],
    message: str,
) -> None:
    with factory() as session, session.begin():
        campaign_id = _campaign(session, **overrides).id
    with pytest.raises(CampaignSendError, match=message):
        send_campaign(factory, line_client, settings, catalog, campaign_id, NOW)
    with pytest.raises(CampaignSendError, match="見つかりません"):
        send_campaign(factory, line_client, settings, catalog, 9999, NOW)


def test_campaigns_send_command(
    database_url: str,
    factory: sessionmaker[Session],
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with factory() as session, session.begin():
        fan = _line_fan(session, emulator, "一人目", {"likes_super_sento": 1})
        campaign_id = _campaign(session, valid_hours=24 * 365).id
    env = {
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": emulator.base_url,
    }
    result = CliRunner().invoke(campaigns, ["send", str(campaign_id)], env=env)
    assert result.exit_code == 0, result.output
    assert "issued 1" in result.output and "sent 1" in result.output
    assert len(emulator.state.messages_for(fan.line_user_id or "")) == 1
    assert emulator.state.violations == []
    missing = CliRunner().invoke(campaigns, ["send", "777"], env=env)
    assert missing.exit_code == 1 and "見つかりません" in missing.output
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Partner)) == 1


def test_a_line_coupon_campaign_creates_one_line_coupon_and_sends_coupon_messages(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    emulator: RunningEmulator,
    catalog: Catalog,
) -> None:
    from coupons.wallet import usable_coupons

    with factory() as session, session.begin():
        fans = [_line_fan(session, emulator, f"ファン{i}", {"likes_super_sento": 1}) for i in range(2)]
        campaign_id = _campaign(session, delivery="line_coupon", image_url="https://example.jp/sento.png").id
    # The emulator judges a coupon's end by the real clock, so this send happens now, not at NOW.
    now = datetime.now(UTC)
    report = send_campaign(factory, line_client, settings, catalog, campaign_id, now)
    assert report.sent == 2
    (line_coupon,) = emulator.state.list_coupons()
    assert line_coupon["title"] == "試合後の入浴 200円引き" and line_coupon["timezone"] == "ASIA_TOKYO"
    assert line_coupon["endTimestamp"] - line_coupon["startTimestamp"] == 48 * 3600
    for fan in fans:
        assert emulator.state.messages_for(fan.line_user_id or "") == [
            {"type": "coupon", "couponId": line_coupon["couponId"]}
        ]
    again = send_campaign(factory, line_client, settings, catalog, campaign_id, now)
    assert again.sent == 0 and len(emulator.state.list_coupons()) == 1
    with factory() as session:
        assert session.get(Campaign, campaign_id).line_coupon_id == line_coupon["couponId"]  # type: ignore[union-attr]
        # It lives in LINE's coupon list: マイクーポン does not show it as a fanbot card.
        assert usable_coupons(session, fans[0].id, now) == []


def test_a_line_coupon_that_cannot_be_created_issues_nothing(
    factory: sessionmaker[Session],
    line_client: LineClient,
    settings: Settings,
    emulator: RunningEmulator,
    catalog: Catalog,
) -> None:
    with factory() as session, session.begin():
        _line_fan(session, emulator, "ファン", {"likes_super_sento": 1})
        campaign_id = _campaign(session, delivery="line_coupon").id
    emulator.state.inject_failures("/v2/bot/coupon", [500])
    with pytest.raises(CampaignSendError, match="LINE クーポンを作成できませんでした"):
        send_campaign(factory, line_client, settings, catalog, campaign_id, NOW)
    with factory() as session:
        assert session.scalars(select(Coupon)).all() == []
