"""The operators' coupon commands: partners, campaigns, redeem — thin shells over coupons/."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.commands.coupons import campaigns, coupons, partners
from coupons.issue import issue_coupon
from coupons.models import Campaign, Coupon, Partner
from data.models import Fan, utcnow

SENTO_RULE = json.dumps({"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]})


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def invoke(command: object, args: list[str], database_url: str) -> Result:
    return CliRunner().invoke(command, args, env={"DATABASE_URL": database_url})  # type: ignore[arg-type]


def made_args(partner_id: int) -> list[str]:
    named = {"--partner": str(partner_id), "--title": "t", "--offer": "o", "--rule": SENTO_RULE}
    named["--cap"] = "10"
    return ["add", *(part for pair in named.items() for part in pair), "--valid-hours", "1"]


def test_partner_and_campaign_are_added_listed_and_activated(database_url: str, engine: Engine) -> None:
    added = invoke(
        partners, ["add", "湯の郷", "--category", "スーパー銭湯", "--access-code", "sento-2026"], database_url
    )
    assert added.exit_code == 0, added.output
    with Session(engine) as session:
        partner = session.scalars(select(Partner)).one()
        assert "sento-2026" not in partner.access_code_hash
    listed = invoke(partners, ["list"], database_url)
    assert "湯の郷" in listed.output

    made = invoke(
        campaigns,
        [
            "add",
            "--partner",
            str(partner.id),
            "--title",
            "入浴200円引き",
            "--offer",
            "200円引き",
            "--rule",
            SENTO_RULE,
            "--cap",
            "100",
            "--valid-hours",
            "48",
            "--per-fan-limit",
            "3",
        ],
        database_url,
    )
    assert made.exit_code == 0, made.output
    with Session(engine) as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.state == "draft" and campaign.per_fan_limit == 3
    assert invoke(campaigns, ["activate", str(campaign.id)], database_url).exit_code == 0
    shown = invoke(campaigns, ["list"], database_url).output
    assert "配信中" in shown and "0/100\tper fan 3" in shown
    refused = invoke(campaigns, [*made_args(partner.id), "--per-fan-limit", "0"], database_url)
    assert refused.exit_code == 1 and "1人あたりの上限は 1〜100 枚にしてください" in refused.output
    assert invoke(campaigns, ["pause", str(campaign.id)], database_url).exit_code == 0
    with Session(engine) as session:
        assert session.get(Campaign, campaign.id).state == "paused"  # type: ignore[union-attr]
        assert campaign.delivery == "card"
    line_args = ["add", "--partner", str(partner.id), "--title", "LINEクーポン", "--offer", "ドリンク1杯無料"]
    line_args += ["--rule", SENTO_RULE, "--cap", "10", "--valid-hours", "24", "--delivery", "line_coupon"]
    line_made = invoke(campaigns, line_args, database_url)
    assert line_made.exit_code == 0, line_made.output
    with Session(engine) as session:
        assert session.scalars(select(Campaign.delivery).order_by(Campaign.id)).all() == [
            "card",
            "line_coupon",
        ]


def test_a_rule_naming_an_unknown_item_is_refused_in_japanese_and_nothing_is_stored(
    database_url: str, engine: Engine, partner: Partner
) -> None:
    rule = json.dumps({"all": [{"item": "likes_karaoke_boxes", "op": "=", "value": 1}]})
    result = invoke(
        campaigns,
        [
            "add",
            "--partner",
            str(partner.id),
            "--title",
            "t",
            "--offer",
            "o",
            "--rule",
            rule,
            "--cap",
            "10",
            "--valid-hours",
            "1",
        ],
        database_url,
    )
    assert result.exit_code != 0
    assert "「likes_karaoke_boxes」はアンケートの項目にありません" in result.output
    with Session(engine) as session:
        assert session.scalars(select(Campaign)).first() is None


def test_pausing_an_ended_campaign_is_refused_with_its_state(
    database_url: str, make_campaign: Callable[..., Campaign]
) -> None:
    campaign = make_campaign(state="ended")
    result = invoke(campaigns, ["pause", str(campaign.id)], database_url)
    assert result.exit_code != 0
    assert "終了" in result.output


def test_redeem_command_redeems_once_then_says_already_used(
    database_url: str,
    db_session: Session,
    partner: Partner,
    make_campaign: Callable[..., Campaign],
    make_fan: Callable[..., Fan],
) -> None:
    campaign = make_campaign()
    fan = make_fan()
    coupon = issue_coupon(db_session, campaign.id, fan.id, utcnow()).coupon
    db_session.commit()
    assert isinstance(coupon, Coupon)
    first = invoke(coupons, ["redeem", coupon.code, "--partner", str(partner.id)], database_url)
    assert first.exit_code == 0, first.output
    assert "利用を受け付けました" in first.output
    second = invoke(coupons, ["redeem", coupon.code, "--partner", str(partner.id)], database_url)
    assert second.exit_code != 0
    assert "利用済み" in second.output
