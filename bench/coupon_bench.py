"""Coupons at scale: issuing one campaign to 100,000 fans, and redeeming at the /partner counter.

Issuance: ``issue_campaign`` (audience, holdout split, cap counter, one coupon per fan) against
the floor of the same rows written by one bulk INSERT with codes drawn beforehand; the check
that no code repeats is printed with it. Redemption: POSTs to ``/partner/redeem`` through the
whole web stack (sign-in session, CSRF, rate limiter, template) against the bare
``coupons.redeem.redeem`` call and commit on the same database. Both on SQLite files.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
VERSION = "2026-11"
SHOP_CODE = "bench-shop-code"


def _database(folder: Path, name: str) -> str:
    from data.database import make_engine
    from data.migrate import upgrade

    url = f"sqlite:///{folder / name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _fans(session: Session, count: int) -> None:
    from data.models import Answer, Fan

    rows = [
        {
            "line_user_id": f"U{n:032x}",
            "source": "line",
            "is_following": True,
            "followed_at": NOW - timedelta(days=3),
            "consented_at": NOW - timedelta(days=3),
            "consent_version": VERSION,
            "created_at": NOW,
        }
        for n in range(count)
    ]
    session.execute(insert(Fan), rows)
    ids = session.scalars(select(Fan.id)).all()
    session.execute(
        insert(Answer),
        [{"fan_id": i, "item_id": "likes_super_sento", "value": 1.0, "answered_at": NOW} for i in ids],
    )
    session.commit()


def _campaign(session: Session, cap: int) -> int:
    from coupons.models import Campaign
    from coupons.partners import create_partner

    shop = create_partner(session, name="ベンチ湯", access_code=SHOP_CODE, now=NOW)
    campaign = Campaign(
        partner_id=shop.id,
        title="入浴200円引き",
        offer_text="入館料から200円引き",
        valid_hours=48,
        total_cap=cap,
        target_rule={"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]},
        holdout_share=0.10,
        state="active",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(campaign)
    session.commit()
    return campaign.id


def bench_issuance(folder: Path, fans: int) -> list[tuple[str, float, str]]:
    from coupons.codes import new_code
    from coupons.issue import issue_campaign
    from coupons.models import Campaign, Coupon
    from coupons.rules import parse_rule
    from data.catalog import load_catalog
    from data.database import make_engine
    from data.models import Fan

    rows: list[tuple[str, float, str]] = []
    # Baseline: the same number of coupon rows, codes drawn in Python, one bulk INSERT.
    engine = make_engine(_database(folder, "issue-floor.db"))
    with Session(engine) as session:
        _fans(session, fans)
        campaign_id = _campaign(session, fans)
        partner_id = session.scalars(select(Campaign.partner_id).where(Campaign.id == campaign_id)).one()
        ids = session.scalars(select(Fan.id)).all()
        start = time.perf_counter()
        targeted = int(len(ids) * 0.9)
        session.execute(
            insert(Coupon),
            [
                {
                    "campaign_id": campaign_id,
                    "partner_id": partner_id,
                    "fan_id": fan_id,
                    "code": new_code(),
                    "state": "issued",
                    "offer_title": "入浴200円引き",
                    "offer_text": "入館料から200円引き",
                    "offer_terms": "",
                    "issued_at": NOW,
                    "valid_from": NOW,
                    "expires_at": NOW + timedelta(hours=48),
                }
                for fan_id in ids[:targeted]
            ],
        )
        session.commit()
        floor = time.perf_counter() - start
    engine.dispose()
    rows.append((f"bulk INSERT of {targeted:,} coupon rows (floor)", floor, ""))

    engine = make_engine(_database(folder, "issue.db"))
    with Session(engine) as session:
        _fans(session, fans)
        campaign_id = _campaign(session, fans)
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        rule = parse_rule(campaign.target_rule, load_catalog())
        start = time.perf_counter()
        report = issue_campaign(session, campaign, rule, VERSION, NOW)
        session.commit()
        elapsed = time.perf_counter() - start
        codes = session.scalar(select(func.count(Coupon.code.distinct()))) or 0
        issued = session.scalar(select(func.count()).select_from(Coupon)) or 0
    engine.dispose()
    unique = "all codes unique" if codes == issued else f"REPEATED CODES: {issued - codes}"
    rows.append(
        (
            f"issue_campaign: {fans:,} eligible, {len(report.issued):,} issued, {report.holdout:,} holdout",
            elapsed,
            unique,
        )
    )
    return rows


def bench_redemption(folder: Path, count: int) -> list[tuple[str, float, str]]:
    from bot.app import create_app
    from bot.settings import Settings
    from coupons.issue import issue_coupon
    from coupons.models import Partner
    from coupons.redeem import redeem
    from data.database import make_engine
    from data.models import Fan

    rows: list[tuple[str, float, str]] = []
    codes: dict[str, list[str]] = {}
    urls = {}
    for name in ("bare", "web"):
        url = _database(folder, f"redeem-{name}.db")
        urls[name] = url
        engine = make_engine(url)
        with Session(engine) as session:
            _fans(session, count)
            campaign_id = _campaign(session, count)
            codes[name] = []
            for fan_id in session.scalars(select(Fan.id)):
                result = issue_coupon(session, campaign_id, fan_id, NOW)
                assert result.coupon is not None
                codes[name].append(result.coupon.code)
            session.commit()
            shop_id = session.scalars(select(Partner.id)).one()
        engine.dispose()

    engine = make_engine(urls["bare"])
    moment = NOW + timedelta(hours=1)
    start = time.perf_counter()
    with Session(engine) as session:
        for code in codes["bare"]:
            assert redeem(session, code, shop_id, moment).ok
            session.commit()
    bare = time.perf_counter() - start
    engine.dispose()
    rows.append((f"redeem() + commit, {count:,} codes (baseline)", bare, f"{count / bare:,.0f}/s"))

    from line_emulator import EmulatorConfig, create_emulator_app
    from line_emulator.server import EmulatorServer

    emulator_app = create_emulator_app(
        EmulatorConfig(
            channel_secret="bench", channel_access_token="bench", webhook_url="http://127.0.0.1:9/"
        )
    )
    state = emulator_app.extensions["line_emulator"]
    state.message_quota = 2 * count  # every thank-you fits in the month's quota
    for n in range(count):
        state.create_user(f"ファン{n}", user_id=f"U{n:032x}")
        state.set_following(f"U{n:032x}", True)
    with EmulatorServer(emulator_app) as emulator:
        settings = Settings(
            line_channel_secret="bench",
            line_channel_access_token="bench",
            database_url=urls["web"],
            line_api_base_url=emulator.base_url,
            testing=True,
        )
        app = create_app(settings, clock=lambda: moment)
        client = app.test_client()
        page = client.get("/partner/login").get_data(as_text=True)
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token
        form = {"csrf": token.group(1), "shop": str(shop_id), "access_code": SHOP_CODE}
        assert client.post("/partner/login", data=form).status_code == 302
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/partner/").get_data(as_text=True))
        assert token
        start = time.perf_counter()
        for code in codes["web"]:
            # Closing the response runs the thank-you push, as a server does after sending the page.
            with client.post("/partner/redeem", data={"csrf": token.group(1), "code": code}) as response:
                assert response.status_code == 200, response.status_code
        web = time.perf_counter() - start
        app.extensions["fanbot.db"].dispose()
        app.extensions["fanbot.line_client"].close()
        thanked = sum(1 for n in range(count) if state.messages_for(f"U{n:032x}"))
    emulator_app.extensions["line_emulator_sender"].close()
    rows.append(
        (
            f"POST /partner/redeem + thank-you push, {count:,} codes",
            web,
            f"{count / web:,.0f}/s, {thanked:,} fans thanked",
        )
    )
    return rows


def _print(title: str, rows: list[tuple[str, float, str]]) -> None:
    print(title)
    width = max(len(name) for name, _, _ in rows)
    print(f"{'case':<{width}} {'seconds':>9} {'x baseline':>11}  note")
    base = rows[0][1]
    for name, seconds, note in rows:
        print(f"{name:<{width}} {seconds:>9.2f} {seconds / base:>11.2f}  {note}")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(argv or [])
    quick = "--quick" in args
    fans = 2_000 if quick else 100_000
    redemptions = 200 if quick else 2_000
    # The emulator's request log would bury the table.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="fanbot-coupon-bench-") as folder:
        _print(
            f"coupon issuance, one campaign, {fans:,} matched fans (SQLite)",
            bench_issuance(Path(folder), fans),
        )
        print()
        _print(
            f"coupon redemption at the shop counter, {redemptions:,} codes (SQLite)",
            bench_redemption(Path(folder), redemptions),
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
