"""Pushing coupons to fans and thanking them after a redemption, through the one LINE client.

`send_campaign` is ``fanbot campaigns send`` (a campaign not tied to a game): it issues the
coupons in one transaction (audience, holdout and cap rules live in ``coupons.issue``; a
LINE-coupon campaign first gets its LINE coupon, once), then
pushes each unsent coupon's card with a retry key derived from the coupon, and records
``sent_at`` once LINE accepted it. A crash between the two leaves coupons unsent; running the
command again pushes exactly those, and a push LINE had accepted before the crash answers 409
on the same key and is counted as sent, not delivered twice (LINE keeps retry keys 24 hours).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from linebot.v3.messaging import Message
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.coupon_cards import coupon_card
from bot.line_client import LineApiError, LineClient
from bot.line_coupons import ensure_line_coupon, line_coupon_message
from bot.metrics import SENDS, log_event
from bot.settings import Settings
from coupons.issue import issue_campaign, send_occasion
from coupons.models import Campaign, Coupon, Partner
from coupons.rules import parse_rule
from coupons.wallet import held
from data.catalog import Catalog
from data.consent import reachable_clause
from data.models import Fan

__all__ = ["CampaignSendError", "SendReport", "coupon_retry_key", "send_campaign", "thank_for_redemption"]

log = logging.getLogger(__name__)

RETRY_NAMESPACE = uuid.UUID("5b0f3f57-4c0a-4d52-9a43-2f1c2b8f0a61")
MONTHLY_LIMIT_MESSAGE = "monthly limit"
ATTEMPTS = 4


class CampaignSendError(ValueError):
    """A campaign that cannot be sent; the message is Japanese, for the marketer."""


@dataclass
class SendReport:
    eligible: int = 0
    holdout: int = 0
    issued: int = 0
    already: int = 0
    at_limit: int = 0
    over_cap: int = 0
    sent: int = 0
    not_reachable: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    quota_stopped: int = 0
    inactive: bool = False


def coupon_retry_key(purpose: str, code: str) -> str:
    """A stable X-Line-Retry-Key for one message about one coupon (a UUID, as LINE requires)."""
    return str(uuid.uuid5(RETRY_NAMESPACE, f"{purpose}:{code}"))


def _push_with_retries(
    client: LineClient, to: str, messages: list[Message], retry_key: str, sleep: Callable[[float], None]
) -> None:
    for attempt in range(ATTEMPTS):
        try:
            client.push(to, messages, retry_key)
            return
        except LineApiError as error:
            quota = error.status == 429 and MONTHLY_LIMIT_MESSAGE in error.message.lower()
            if quota or not error.retryable or attempt == ATTEMPTS - 1:
                raise
            # LINE sends no Retry-After: exponential backoff with full jitter, same retry key.
            sleep(random.uniform(0, 0.25 * 2**attempt))


def send_campaign(
    session_factory: Callable[[], Session],
    client: LineClient,
    settings: Settings,
    catalog: Catalog,
    campaign_id: int,
    now: datetime,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """Issue the campaign's coupons to its audience now and push every unsent card."""
    report = SendReport()
    with session_factory() as session, session.begin():
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise CampaignSendError(f"キャンペーン {campaign_id} は見つかりません。")
        if campaign.state != "active":
            raise CampaignSendError(
                f"キャンペーン「{campaign.title}」は配信中ではありません。先に有効にしてください。"
            )
        delivery, line_coupon_id = campaign.delivery, campaign.line_coupon_id
        if delivery == "line_coupon" and line_coupon_id is None:
            # Created once per campaign, before any coupon is issued for it.
            try:
                line_coupon_id = ensure_line_coupon(client, campaign, now)
            except LineApiError as error:
                raise CampaignSendError(f"LINE クーポンを作成できませんでした（{error}）。") from error
            campaign.line_coupon_id = line_coupon_id
        rule = parse_rule(campaign.target_rule, catalog)
        issued = issue_campaign(
            session, campaign, rule, settings.consent_version, now, occasion=send_occasion(now)
        )
        report.eligible, report.holdout = issued.eligible, issued.holdout
        report.issued, report.already, report.over_cap = len(issued.issued), issued.already, issued.over_cap
        report.at_limit = issued.at_limit
        report.inactive = issued.inactive
        image_url = campaign.image_url
    with session_factory() as session:
        rows = session.execute(
            select(Coupon, Partner, Fan.line_user_id, reachable_clause(settings.consent_version))
            .join(Partner, Partner.id == Coupon.partner_id)
            .join(Fan, Fan.id == Coupon.fan_id)
            .where(Coupon.campaign_id == campaign_id, Coupon.sent_at.is_(None), Coupon.state == "issued")
            .order_by(Coupon.id)
        ).all()
        session.expunge_all()
    for position, (coupon, partner, line_user_id, reachable) in enumerate(rows):
        # Consent, following and opt-out are read again at send time: a fan who left since is not pushed.
        if not reachable or not line_user_id:
            report.not_reachable += 1
            continue
        message: Message = (
            line_coupon_message(line_coupon_id)
            if delivery == "line_coupon" and line_coupon_id is not None
            else coupon_card(held(coupon, partner, image_url), settings, now)
        )
        try:
            _push_with_retries(
                client, line_user_id, [message], coupon_retry_key(delivery, coupon.code), sleep
            )
        except LineApiError as error:
            SENDS.labels(kind=delivery, outcome="failed").inc()
            log_event("send", kind=delivery, campaign=campaign_id, outcome="failed", status=error.status)
            if error.status == 429 and MONTHLY_LIMIT_MESSAGE in error.message.lower():
                # This coupon and every one after it wait for next month's quota; none is dropped.
                report.quota_stopped = len(rows) - position
                log.warning("monthly message limit reached: %d coupons left unsent", report.quota_stopped)
                break
            report.failed[f"{error.status}: {error.message}"[:120]] += 1
            continue
        with session_factory() as session, session.begin():
            session.execute(
                update(Coupon)
                .where(Coupon.id == coupon.id, Coupon.sent_at.is_(None))
                .values(sent_at=now)
                .execution_options(synchronize_session=False)
            )
        report.sent += 1
        SENDS.labels(kind=delivery, outcome="sent").inc()
        log_event("send", kind=delivery, campaign=campaign_id, outcome="sent")
    return report


def thank_for_redemption(client: LineClient, line_user_id: str, partner_name: str, code: str) -> bool:
    """A short thank-you push after a redemption; False (logged) when LINE could not take it.

    The redemption stands either way: the thank-you is a courtesy, never a condition.
    """
    from bot import messages

    text = (
        f"{partner_name}でクーポンをご利用いただきました。"
        "ありがとうございました！またのご来店をお待ちしています。"
    )
    try:
        client.push(line_user_id, [messages.text(text)], coupon_retry_key("thanks", code))
    except LineApiError as error:
        SENDS.labels(kind="thanks", outcome="failed").inc()
        log.warning("thank-you push for a redemption failed: %s", error)
        return False
    SENDS.labels(kind="thanks", outcome="sent").inc()
    return True
