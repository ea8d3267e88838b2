"""Issuing: one coupon per fan per occasion up to the per-fan limit, within the cap, none to the holdout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from coupons.audience import holdout_group
from coupons.issue import game_occasion, issue_campaign, issue_coupon, send_occasion
from coupons.models import AudienceMember, Campaign, Coupon
from coupons.rules import parse_rule
from data.catalog import Catalog
from data.models import Fan
from tests.coupons.conftest import NOW, VERSION


def _coupons(session: Session, campaign_id: int) -> int:
    return (
        session.scalar(select(func.count()).select_from(Coupon).where(Coupon.campaign_id == campaign_id)) or 0
    )


def test_matching_fans_get_one_coupon_each_with_the_offer_copied(
    db_session: Session,
    catalog: Catalog,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign()
    sento = [make_fan({"likes_super_sento": 1}) for _ in range(3)]
    make_fan({"likes_super_sento": 0})
    make_fan({})  # never answered: no rule match, no lookalike part
    make_fan({"likes_super_sento": 1}, opted_out_at=NOW)  # opted out: not reachable
    rule = parse_rule(campaign.target_rule, catalog)
    report = issue_campaign(db_session, campaign, rule, VERSION, NOW)
    db_session.commit()
    assert sorted(c.fan_id or 0 for c in report.issued) == [f.id for f in sento]
    again = issue_campaign(db_session, campaign, rule, VERSION, NOW + timedelta(hours=1))
    db_session.commit()
    assert again.issued == [] and again.already == 3
    coupon = report.issued[0]
    assert coupon.valid_from == NOW and coupon.expires_at == NOW + timedelta(hours=48)
    # Editing the campaign afterwards changes no coupon already issued.
    campaign.offer_text = "入館料 半額"
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(Coupon, coupon.id).offer_text == "入館料から200円引き"  # type: ignore[union-attr]


def test_holdout_fans_are_recorded_and_receive_nothing(
    db_session: Session,
    catalog: Catalog,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign(holdout_share=0.3)
    fans = [make_fan({"likes_super_sento": 1}) for _ in range(60)]
    report = issue_campaign(db_session, campaign, parse_rule(campaign.target_rule, catalog), VERSION, NOW)
    db_session.commit()
    rows = db_session.execute(
        select(AudienceMember.fan_id, AudienceMember.group).where(AudienceMember.campaign_id == campaign.id)
    )
    groups = {fan_id: group for fan_id, group in rows}
    assert set(groups) == {f.id for f in fans}
    # The split is the hash of campaign and fan: reproducible from the ids alone.
    assert groups == {f.id: holdout_group(campaign.id, f.id, 0.3) for f in fans}
    holdout = {fan_id for fan_id, group in groups.items() if group == "holdout"}
    assert 0 < len(holdout) < 60 and report.holdout == len(holdout)
    assert {c.fan_id for c in report.issued} == set(groups) - holdout


def test_cap_zero_issues_nothing(
    db_session: Session,
    catalog: Catalog,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign(total_cap=0)
    make_fan({"likes_super_sento": 1})
    report = issue_campaign(db_session, campaign, parse_rule(campaign.target_rule, catalog), VERSION, NOW)
    db_session.commit()
    assert report.issued == [] and report.over_cap == 1
    assert _coupons(db_session, campaign.id) == 0


def test_paused_campaign_issues_nothing_even_to_a_single_fan(
    db_session: Session, make_campaign: Callable[..., Campaign], make_fan: Callable[..., Fan]
) -> None:
    campaign = make_campaign(state="paused")
    fan = make_fan({"likes_super_sento": 1})
    assert issue_coupon(db_session, campaign.id, fan.id, NOW).status == "inactive"


def test_campaign_paused_while_issuing_stops_at_once(
    db_session: Session, engine: Engine, make_campaign: Callable[..., Campaign], make_fan: Callable[..., Fan]
) -> None:
    campaign = make_campaign()
    fans = [make_fan({"likes_super_sento": 1}) for _ in range(4)]
    assert issue_coupon(db_session, campaign.id, fans[0].id, NOW).status == "issued"
    db_session.commit()
    with Session(engine) as marketer:
        marketer.get(Campaign, campaign.id).state = "paused"  # type: ignore[union-attr]
        marketer.commit()
    assert [issue_coupon(db_session, campaign.id, f.id, NOW).status for f in fans[1:]] == ["inactive"] * 3
    db_session.commit()
    assert _coupons(db_session, campaign.id) == 1


def test_concurrent_issuers_never_pass_the_cap_nor_give_a_fan_two(
    database_url: str,
    engine: Engine,
    db_session: Session,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    # On PostgreSQL the issuers really race on the row; on SQLite its write lock queues them.
    cap = 15
    campaign = make_campaign(total_cap=cap)
    fans = [make_fan({"likes_super_sento": 1}) for _ in range(25)]
    # 24 issuers, each trying every fan (so every fan is raced for, and the cap too).
    start = threading.Barrier(24)

    def issuer(offset: int) -> list[str]:
        start.wait()
        statuses = []
        for step in range(len(fans)):
            fan = fans[(offset + step) % len(fans)]
            with Session(engine) as session:
                statuses.append(issue_coupon(session, campaign.id, fan.id, NOW).status)
                session.commit()
        return statuses

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = [s for statuses in pool.map(issuer, range(24)) for s in statuses]
    db_session.expire_all()
    per_fan = db_session.execute(
        select(Coupon.fan_id, func.count()).where(Coupon.campaign_id == campaign.id).group_by(Coupon.fan_id)
    ).all()
    assert len(per_fan) == cap
    assert all(count == 1 for _, count in per_fan)
    assert results.count("issued") == cap
    assert db_session.get(Campaign, campaign.id).issued_count == cap  # type: ignore[union-attr]


def test_concurrent_campaign_runs_issue_in_chunks_within_the_cap(
    engine: Engine,
    db_session: Session,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
    monkeypatch: pytest.MonkeyPatch,
    catalog: Catalog,
) -> None:
    # Small chunks so that runs race chunk against chunk, and the cap falls inside a chunk.
    monkeypatch.setattr("coupons.issue.CHUNK", 7)
    cap = 40
    campaign = make_campaign(total_cap=cap)
    fans = [make_fan({"likes_super_sento": 1}) for _ in range(60)]
    rule = parse_rule(campaign.target_rule, catalog)
    start = threading.Barrier(20)

    def run(_: int) -> tuple[int, int, int]:
        start.wait()
        with Session(engine) as session:
            mine = session.get(Campaign, campaign.id)
            assert mine is not None
            report = issue_campaign(session, mine, rule, VERSION, NOW)
            session.commit()
            return len(report.issued), report.already, report.over_cap

    with ThreadPoolExecutor(max_workers=20) as pool:
        reports = list(pool.map(run, range(20)))
    db_session.expire_all()
    per_fan = db_session.execute(
        select(Coupon.fan_id, func.count()).where(Coupon.campaign_id == campaign.id).group_by(Coupon.fan_id)
    ).all()
    assert len(per_fan) == cap and all(count == 1 for _, count in per_fan)
    assert sum(issued for issued, _, _ in reports) == cap
    assert db_session.get(Campaign, campaign.id).issued_count == cap  # type: ignore[union-attr]
    # A later run finds the cap reached and says so for every fan still without a coupon.
    again = issue_campaign(db_session, campaign, rule, VERSION, NOW)
    assert (len(again.issued), again.already, again.over_cap) == (0, cap, len(fans) - cap)


def test_a_chunk_skips_fans_served_meanwhile_and_gives_their_counter_steps_back(
    db_session: Session, make_campaign: Callable[..., Campaign], make_fan: Callable[..., Fan]
) -> None:
    from coupons.issue import _issue_chunk

    campaign = make_campaign(total_cap=10)
    fans = [make_fan({"likes_super_sento": 1}) for _ in range(3)]
    first = issue_coupon(db_session, campaign.id, fans[0].id, NOW)
    db_session.commit()
    issued = _issue_chunk(db_session, campaign.id, [(f.id, 1) for f in fans], "", NOW)
    db_session.commit()
    assert issued is not None and sorted(c.fan_id or 0 for c in issued) == [fans[1].id, fans[2].id]
    assert first.coupon is not None and first.coupon.code not in {c.code for c in issued}
    db_session.expire_all()
    assert db_session.get(Campaign, campaign.id).issued_count == 3  # type: ignore[union-attr]
    # A chunk that does not fit under the cap is not issued at all (the caller goes one by one).
    more = [make_fan({"likes_super_sento": 1}) for _ in range(8)]
    assert _issue_chunk(db_session, campaign.id, [(f.id, 1) for f in more], "", NOW) is None
    db_session.expire_all()
    assert db_session.get(Campaign, campaign.id).issued_count == 3  # type: ignore[union-attr]


def test_a_campaign_edited_while_issuing_changes_only_the_coupons_issued_after(
    db_session: Session, engine: Engine, make_campaign: Callable[..., Campaign], make_fan: Callable[..., Fan]
) -> None:
    campaign = make_campaign()
    before, after = make_fan({"likes_super_sento": 1}), make_fan({"likes_super_sento": 1})
    first = issue_coupon(db_session, campaign.id, before.id, NOW)
    db_session.commit()
    with Session(engine) as marketer:
        edited = marketer.get(Campaign, campaign.id)
        assert edited is not None
        edited.offer_text, edited.valid_hours = "入館料から300円引き", 24
        marketer.commit()
    second = issue_coupon(db_session, campaign.id, after.id, NOW)
    db_session.commit()
    db_session.expire_all()
    coupons = {c.fan_id: c for c in db_session.scalars(select(Coupon))}
    assert first.coupon is not None and second.coupon is not None
    assert (coupons[before.id].offer_text, coupons[before.id].expires_at) == (
        "入館料から200円引き",
        NOW + timedelta(hours=48),
    )
    assert (coupons[after.id].offer_text, coupons[after.id].expires_at) == (
        "入館料から300円引き",
        NOW + timedelta(hours=24),
    )


def test_a_per_fan_limit_gives_one_coupon_per_occasion_up_to_the_limit(
    db_session: Session,
    catalog: Catalog,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign(per_fan_limit=2)
    fan = make_fan({"likes_super_sento": 1})
    rule = parse_rule(campaign.target_rule, catalog)
    first = issue_campaign(db_session, campaign, rule, VERSION, NOW, occasion=game_occasion(1))
    db_session.commit()
    again = issue_campaign(db_session, campaign, rule, VERSION, NOW, occasion=game_occasion(1))
    second = issue_campaign(db_session, campaign, rule, VERSION, NOW, occasion=game_occasion(2))
    db_session.commit()
    third = issue_campaign(db_session, campaign, rule, VERSION, NOW, occasion=game_occasion(3))
    db_session.commit()
    assert (len(first.issued), len(again.issued), again.already) == (1, 0, 1)
    assert len(second.issued) == 1 and second.issued[0].code != first.issued[0].code
    assert (len(third.issued), third.at_limit) == (0, 1)
    held = db_session.execute(
        select(Coupon.seq, Coupon.occasion).where(Coupon.fan_id == fan.id).order_by(Coupon.seq)
    ).all()
    assert [tuple(row) for row in held] == [(1, "game:1"), (2, "game:2")]
    assert issue_coupon(db_session, campaign.id, fan.id, NOW, game_occasion(4)).status == "limit"
    db_session.expire_all()
    assert db_session.get(Campaign, campaign.id).issued_count == 2  # type: ignore[union-attr]


def test_the_default_limit_of_one_holds_across_occasions(
    db_session: Session,
    catalog: Catalog,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign()
    make_fan({"likes_super_sento": 1})
    rule = parse_rule(campaign.target_rule, catalog)
    assert (
        len(issue_campaign(db_session, campaign, rule, VERSION, NOW, occasion=send_occasion(NOW)).issued) == 1
    )
    later = NOW + timedelta(days=1)
    next_day = issue_campaign(db_session, campaign, rule, VERSION, later, occasion=send_occasion(later))
    assert (len(next_day.issued), next_day.already, next_day.at_limit) == (0, 0, 1)


def test_a_manual_send_occasion_is_the_tokyo_day() -> None:
    # 23:30 JST and 00:30 JST the next day are different days; 14:59 and 15:00 UTC likewise.
    assert send_occasion(NOW.replace(hour=14, minute=59)) == "send:2026-11-28"
    assert send_occasion(NOW.replace(hour=15, minute=0)) == "send:2026-11-29"


def test_racing_issuers_for_many_occasions_never_pass_the_per_fan_limit_nor_the_cap(
    engine: Engine, db_session: Session, make_campaign: Callable[..., Campaign], make_fan: Callable[..., Fan]
) -> None:
    # 24 issuers, each issuing one of 6 occasions to every fan: each fan is raced for by
    # issuers of different occasions (which compete for the same seq) and of the same one.
    limit, cap = 3, 40
    campaign = make_campaign(per_fan_limit=limit, total_cap=cap)
    fans = [make_fan({"likes_super_sento": 1}) for _ in range(20)]
    start = threading.Barrier(24)

    def issuer(number: int) -> list[str]:
        start.wait()
        statuses = []
        for step in range(len(fans)):
            fan = fans[(number + step) % len(fans)]
            with Session(engine) as session:
                result = issue_coupon(session, campaign.id, fan.id, NOW, game_occasion(number % 6))
                statuses.append(result.status)
                session.commit()
        return statuses

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = [s for statuses in pool.map(issuer, range(24)) for s in statuses]
    db_session.expire_all()
    rows = db_session.execute(
        select(Coupon.fan_id, Coupon.seq, Coupon.occasion).where(Coupon.campaign_id == campaign.id)
    ).all()
    per_fan: dict[int, list[tuple[int, str]]] = {}
    for fan_id, seq, occasion in rows:
        per_fan.setdefault(fan_id, []).append((seq, occasion))
    assert len(rows) == cap == results.count("issued")
    for held in per_fan.values():
        assert len(held) <= limit
        assert sorted(seq for seq, _ in held) == list(range(1, len(held) + 1))
        assert len({occasion for _, occasion in held}) == len(held)
    assert db_session.get(Campaign, campaign.id).issued_count == cap  # type: ignore[union-attr]
    assert set(results) <= {"issued", "already", "limit", "cap"}
