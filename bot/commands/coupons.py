"""``fanbot partners``, ``fanbot campaigns`` and ``fanbot coupons``: thin shells over ``coupons/``."""

from __future__ import annotations

import json
from datetime import datetime

import click
from sqlalchemy import select

from bot.commands.session import load_database_settings, session_scope

# Shown to operators in Japanese, as the rest of the CLI's refusals are.
_STATE_LABELS = {"draft": "下書き", "active": "配信中", "paused": "一時停止", "ended": "終了"}


@click.group()
def partners() -> None:
    """Partner shops that accept coupons."""


@partners.command("add")
@click.argument("name")
@click.option("--category", default="", help="e.g. スーパー銭湯")
@click.option("--address", default="")
@click.option("--access-code", required=True, help="Staff sign-in code for /partner (8+ characters).")
def partners_add(name: str, category: str, address: str, access_code: str) -> None:
    """Add a partner shop."""
    from coupons.partners import create_partner
    from data.models import utcnow

    try:
        with session_scope(load_database_settings().database_url) as session:
            partner = create_partner(
                session, name=name, access_code=access_code, now=utcnow(), category=category, address=address
            )
            partner_id = partner.id
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"partner {partner_id}: {name}")


@partners.command("list")
def partners_list() -> None:
    """List partner shops."""
    from coupons.models import Partner

    with session_scope(load_database_settings().database_url) as session:
        for partner in session.scalars(select(Partner).order_by(Partner.id)):
            status = "" if partner.active else " (inactive)"
            click.echo(f"{partner.id}\t{partner.name}\t{partner.category}\t{partner.address}{status}")


def _moment(text: str | None) -> datetime | None:
    from zoneinfo import ZoneInfo

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"日時「{text}」が読めません（例: 2026-12-01T10:00）。") from None
    # A time without a zone is Tokyo time, as marketers read and write it.
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("Asia/Tokyo"))


@click.group()
def campaigns() -> None:
    """Coupon campaigns: create, list, activate, pause."""


@campaigns.command("add")
@click.option("--partner", "partner_id", type=int, required=True)
@click.option("--title", required=True)
@click.option("--offer", required=True, help="The offer as fans read it.")
@click.option("--terms", default="")
@click.option("--image-url", default=None)
@click.option(
    "--rule",
    required=True,
    help='Target rule as JSON, e.g. {"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]}',
)
@click.option("--cap", type=int, required=True, help="Total number of coupons at most.")
@click.option("--valid-hours", type=int, default=None, help="Valid for N hours after sending.")
@click.option(
    "--valid-from", default=None, help="Fixed window start (ISO, Tokyo time unless a zone is given)."
)
@click.option("--valid-until", default=None)
@click.option("--holdout", type=float, default=0.10, show_default=True, help="Share kept as holdout.")
@click.option(
    "--per-fan-limit",
    type=int,
    default=1,
    show_default=True,
    help="Coupons one fan may get over time, at most one per game (post-game) or per day (campaigns send).",
)
@click.option(
    "--delivery",
    type=click.Choice(["card", "line_coupon"]),
    default="card",
    show_default=True,
    help="card: fanbot's coupon card, redeemed at /partner; line_coupon: LINE's Coupon API (no shop check).",
)
def campaigns_add(
    partner_id: int,
    title: str,
    offer: str,
    terms: str,
    image_url: str | None,
    rule: str,
    cap: int,
    valid_hours: int | None,
    valid_from: str | None,
    valid_until: str | None,
    holdout: float,
    per_fan_limit: int,
    delivery: str,
) -> None:
    """Add a campaign as a draft (activate it to issue coupons)."""
    from coupons.campaigns import create_campaign
    from data.catalog import load_catalog
    from data.models import utcnow

    try:
        target_rule = json.loads(rule)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"条件（--rule）が JSON として読めません: {error.msg}") from error
    try:
        with session_scope(load_database_settings().database_url) as session:
            campaign = create_campaign(
                session,
                load_catalog(),
                partner_id=partner_id,
                title=title,
                offer_text=offer,
                terms=terms,
                image_url=image_url,
                now=utcnow(),
                target_rule=target_rule,
                total_cap=cap,
                valid_hours=valid_hours,
                valid_from=_moment(valid_from),
                valid_until=_moment(valid_until),
                holdout_share=holdout,
                per_fan_limit=per_fan_limit,
                delivery=delivery,
            )
            campaign_id = campaign.id
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"campaign {campaign_id}: {title} (draft)")


@campaigns.command("list")
def campaigns_list() -> None:
    """List campaigns with their state, issued count over cap, and per-fan limit."""
    from coupons.models import Campaign

    with session_scope(load_database_settings().database_url) as session:
        for campaign in session.scalars(select(Campaign).order_by(Campaign.id)):
            click.echo(
                f"{campaign.id}\t{campaign.title}\tpartner {campaign.partner_id}\t"
                f"{_STATE_LABELS.get(campaign.state, campaign.state)}\t"
                f"{campaign.issued_count}/{campaign.total_cap}\tper fan {campaign.per_fan_limit}"
            )


def _set_state(campaign_id: int, state: str) -> None:
    from coupons.campaigns import set_state
    from data.models import utcnow

    try:
        with session_scope(load_database_settings().database_url) as session:
            set_state(session, campaign_id, state, utcnow())
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"campaign {campaign_id}: {state}")


@campaigns.command("activate")
@click.argument("campaign_id", type=int)
def campaigns_activate(campaign_id: int) -> None:
    """Start issuing a draft or paused campaign."""
    _set_state(campaign_id, "active")


@campaigns.command("pause")
@click.argument("campaign_id", type=int)
def campaigns_pause(campaign_id: int) -> None:
    """Stop issuing at once; coupons already issued stay valid."""
    _set_state(campaign_id, "paused")


@campaigns.command("send")
@click.argument("campaign_id", type=int)
def campaigns_send(campaign_id: int) -> None:
    """Issue CAMPAIGN's coupons now and push the cards (for campaigns not tied to a game)."""
    from bot.commands.session import load_settings, require_schema
    from bot.coupon_delivery import CampaignSendError, send_campaign
    from bot.line_client import LineClient
    from coupons.rules import RuleError
    from data.catalog import load_catalog
    from data.database import make_engine, make_session_factory
    from data.models import utcnow

    settings = load_settings()
    engine = make_engine(settings.database_url)
    client = LineClient(settings)
    try:
        require_schema(engine)
        report = send_campaign(
            make_session_factory(engine), client, settings, load_catalog(), campaign_id, utcnow()
        )
    except (CampaignSendError, RuleError) as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
        engine.dispose()
    click.echo(
        f"campaign {campaign_id}: eligible {report.eligible}, holdout {report.holdout}, "
        f"issued {report.issued} (already held today {report.already}, at per-fan limit {report.at_limit}, "
        f"over cap {report.over_cap}), "
        f"sent {report.sent}, not reachable {report.not_reachable}, "
        f"failed {sum(report.failed.values())}, waiting for quota {report.quota_stopped}"
    )
    for reason, count in report.failed.most_common():
        click.echo(f"  failed {count}: {reason}")
    if report.quota_stopped:
        raise click.ClickException(
            f"今月の送信上限に達したため、{report.quota_stopped} 件のクーポンが未送信です"
            "（来月、再実行で送信されます）。"
        )


@click.group()
def coupons() -> None:
    """Coupons held by fans."""


@coupons.command("redeem")
@click.argument("code")
@click.option("--partner", "partner_id", type=int, required=True)
def coupons_redeem(code: str, partner_id: int) -> None:
    """Redeem CODE at partner P (as the /partner page does)."""
    from coupons.redeem import redeem
    from data.models import utcnow

    with session_scope(load_database_settings().database_url) as session:
        result = redeem(session, code, partner_id, utcnow())
    if not result.ok:
        raise click.ClickException(result.message)
    click.echo(result.message)
