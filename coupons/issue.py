"""Issuing coupons: within the campaign's per-fan limit, one per occasion, never past its cap.

Public functions: :func:`issue_coupon` (one fan), :func:`issue_campaign` (every targeted fan
of an active campaign), :func:`coupon_window`, :func:`send_occasion`, :func:`game_occasion`.

An *occasion* names what a coupon is issued for: a game (``game:<id>``, the post-game send) or
a day's manual send (``send:<JST date>``). A fan gets at most one coupon per occasion, and at
most the campaign's ``per_fan_limit`` over all occasions (default 1: one coupon per fan, ever).

Race safety, by construction:

* the cap is a counter raised by one conditional ``UPDATE campaigns SET issued_count =
  issued_count + 1 WHERE id = :id AND state = 'active' AND issued_count < total_cap``:
  concurrent issuers queue on the row (PostgreSQL re-checks the WHERE after the lock is
  released; SQLite's write lock serialises transactions), so the count never passes the cap;
* "one per occasion" and "at most the limit" are the ``(campaign_id, fan_id, occasion)`` and
  ``(campaign_id, fan_id, seq)`` unique constraints: a new coupon takes the next ``seq`` after
  the fan's highest, so issuers that read the same holdings race for the same ``seq`` and only
  one wins; the insert runs in a SAVEPOINT, and a losing racer looks again and gives its
  counter step back. (A void coupon, whose send was called off, keeps its ``seq`` but gives
  its occasion back and does not count against the limit: `coupons.outbox.void_cancelled`.)

Nothing here commits; the caller's transaction decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coupons.audience import eligible_fans, record_audience
from coupons.codes import new_code
from coupons.models import Campaign, Coupon
from coupons.rules import TargetRule
from data.database import insert_new
from data.games import TOKYO

__all__ = [
    "IssueReport",
    "IssueResult",
    "coupon_window",
    "game_occasion",
    "issue_campaign",
    "issue_coupon",
    "send_occasion",
]


def game_occasion(game_id: int) -> str:
    """The occasion of a post-game send: one coupon per fan per game."""
    return f"game:{game_id}"


def send_occasion(now: datetime) -> str:
    """The occasion of a manual send: at most one coupon per fan per campaign and JST day."""
    return f"send:{now.astimezone(TOKYO).date().isoformat()}"


@dataclass(frozen=True)
class IssueResult:
    """``status``: ``issued``, ``already`` (the fan has this campaign's coupon for this
    occasion), ``limit`` (the fan holds the campaign's per-fan limit already), ``cap`` (the
    campaign reached its total cap) or ``inactive`` (not active: draft, paused, ended)."""

    status: str
    coupon: Coupon | None = None


@dataclass
class IssueReport:
    eligible: int = 0
    holdout: int = 0
    issued: list[Coupon] = field(default_factory=list)
    already: int = 0
    at_limit: int = 0
    over_cap: int = 0
    inactive: bool = False


def coupon_window(campaign: Campaign, now: datetime) -> tuple[datetime, datetime]:
    """(valid from, expires at) of a coupon issued now: a fixed window or N hours from now."""
    if campaign.valid_hours is not None:
        return now, now + timedelta(hours=campaign.valid_hours)
    if campaign.valid_from is None or campaign.valid_until is None:
        raise ValueError("キャンペーンに有効期間が設定されていません。")
    return campaign.valid_from, campaign.valid_until


def _held(session: Session, campaign_id: int, fan_id: int, occasion: str) -> tuple[int, int, Coupon | None]:
    """(how many of the campaign's coupons count against the fan's limit, the highest seq, the
    coupon for ``occasion`` if any). A void coupon (its send called off) does not count."""
    coupons = list(
        session.scalars(
            select(Coupon)
            .where(Coupon.campaign_id == campaign_id, Coupon.fan_id == fan_id)
            .execution_options(populate_existing=True)
        )
    )
    counted = sum(1 for c in coupons if c.state != "void")
    return (
        counted,
        max((c.seq for c in coupons), default=0),
        next((c for c in coupons if c.occasion == occasion), None),
    )


def issue_coupon(
    session: Session, campaign_id: int, fan_id: int, now: datetime, occasion: str = ""
) -> IssueResult:
    """Issue one coupon of the campaign to the fan for ``occasion``, if the limits allow.

    ``occasion`` "" is the default for one-off issuance (tests, a shop's own campaign); the
    callers that run repeatedly pass :func:`game_occasion` or :func:`send_occasion`.
    """
    count, last_seq, existing = _held(session, campaign_id, fan_id, occasion)
    if existing is not None:
        return IssueResult("already", existing)
    limit = session.scalar(select(Campaign.per_fan_limit).where(Campaign.id == campaign_id))
    if limit is not None and count >= limit:
        return IssueResult("limit")
    raised: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.state == "active",
            Campaign.issued_count < Campaign.total_cap,
        )
        .values(issued_count=Campaign.issued_count + 1)
        .execution_options(synchronize_session=False)
    )
    if raised.rowcount != 1:
        state = session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
        return IssueResult("inactive" if state != "active" else "cap")
    # Read the campaign as it is now (after the lock): the offer copied is the current one.
    campaign = session.execute(
        select(Campaign).where(Campaign.id == campaign_id).execution_options(populate_existing=True)
    ).scalar_one()
    valid_from, expires_at = coupon_window(campaign, now)
    for _ in range(8):
        coupon = Coupon(
            campaign_id=campaign.id,
            partner_id=campaign.partner_id,
            fan_id=fan_id,
            code=new_code(),
            seq=last_seq + 1,
            occasion=occasion,
            state="issued",
            offer_title=campaign.title,
            offer_text=campaign.offer_text,
            offer_terms=campaign.terms,
            issued_at=now,
            valid_from=valid_from,
            expires_at=expires_at,
        )
        try:
            with session.begin_nested():
                session.add(coupon)
                session.flush()
        except IntegrityError:
            # Another issuer served this fan meanwhile (same occasion, or took the seq), or,
            # about 2⁻⁶³ per pair, the code was taken: look again and try the next free seq.
            count, last_seq, taken = _held(session, campaign_id, fan_id, occasion)
            if taken is not None or count >= campaign.per_fan_limit:
                _give_back(session, campaign_id, 1)
                return IssueResult("already", taken) if taken is not None else IssueResult("limit")
            continue
        return IssueResult("issued", coupon)
    raise RuntimeError("could not issue a coupon after repeated conflicts")  # pragma: no cover


# Fans issued per reservation: one UPDATE of the counter and one multi-row INSERT per chunk.
CHUNK = 1000


def _reserve(session: Session, campaign_id: int, count: int) -> bool:
    """Raise the cap counter by ``count`` in one step, only if all of them fit and the campaign is active."""
    raised: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.state == "active",
            Campaign.issued_count + count <= Campaign.total_cap,
        )
        .values(issued_count=Campaign.issued_count + count)
        .execution_options(synchronize_session=False)
    )
    return raised.rowcount == 1


def _give_back(session: Session, campaign_id: int, count: int) -> None:
    if count:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(issued_count=Campaign.issued_count - count)
            .execution_options(synchronize_session=False)
        )


def _issue_chunk(
    session: Session, campaign_id: int, fans: list[tuple[int, int]], occasion: str, now: datetime
) -> list[Coupon] | None:
    """Issue to every ``(fan_id, seq)`` of ``fans`` at once; None when the chunk does not go in whole.

    None means the chunk does not fit (cap, paused) or met a conflict other than "this fan
    already has this occasion's coupon" (a racing issuer took a seq, a code collided): the
    caller then goes one fan at a time, which sorts each case out. Fans another issuer served
    for this occasion meanwhile are skipped and their counter steps given back.
    """
    fan_ids = [fan_id for fan_id, _ in fans]
    if not _reserve(session, campaign_id, len(fan_ids)):
        return None
    campaign = session.execute(
        select(Campaign).where(Campaign.id == campaign_id).execution_options(populate_existing=True)
    ).scalar_one()
    valid_from, expires_at = coupon_window(campaign, now)
    codes = [new_code() for _ in fan_ids]
    rows = [
        {
            "campaign_id": campaign.id,
            "partner_id": campaign.partner_id,
            "fan_id": fan_id,
            "code": code,
            "seq": seq,
            "occasion": occasion,
            "state": "issued",
            "offer_title": campaign.title,
            "offer_text": campaign.offer_text,
            "offer_terms": campaign.terms,
            "issued_at": now,
            "valid_from": valid_from,
            "expires_at": expires_at,
        }
        for (fan_id, seq), code in zip(fans, codes, strict=True)
    ]
    try:
        with session.begin_nested():
            insert_new(session, Coupon.__table__, rows, keys=("campaign_id", "fan_id", "occasion"))
    except IntegrityError:
        _give_back(session, campaign_id, len(fan_ids))
        return None
    issued = list(
        session.scalars(select(Coupon).where(Coupon.campaign_id == campaign_id, Coupon.code.in_(codes)))
    )
    _give_back(session, campaign_id, len(fan_ids) - len(issued))
    return issued


def issue_campaign(
    session: Session,
    campaign: Campaign,
    rule: TargetRule,
    consent_version: str,
    now: datetime,
    occasion: str = "",
) -> IssueReport:
    """Record the audience and issue a coupon for ``occasion`` to every targeted fan; holdout fans get none.

    A fan who has this occasion's coupon counts as ``already``; one who holds the campaign's
    per-fan limit as ``at_limit``. Fans are issued in chunks of `CHUNK` (one counter step and
    one INSERT each); a chunk that does not fit under the cap, or meets a paused campaign,
    goes one fan at a time through :func:`issue_coupon`, which says for each fan exactly why not.
    """
    report = IssueReport()
    if campaign.state != "active":
        report.inactive = True
        return report
    audience = record_audience(
        session, campaign, eligible_fans(session, campaign, rule, consent_version), now
    )
    report.eligible = len(audience)
    report.holdout = sum(1 for member in audience if member.group == "holdout")
    # Per fan: coupons counting against the limit (void ones do not), highest seq, this occasion's.
    held: dict[int, tuple[int, int, int]] = {
        fan_id: (int(count or 0), int(last_seq or 0), int(has_occasion or 0))
        for fan_id, count, last_seq, has_occasion in session.execute(
            select(
                Coupon.fan_id,
                func.sum(case((Coupon.state != "void", 1), else_=0)),
                func.max(Coupon.seq),
                func.max(case((Coupon.occasion == occasion, 1), else_=0)),
            )
            .where(Coupon.campaign_id == campaign.id, Coupon.fan_id.is_not(None))
            .group_by(Coupon.fan_id)
        )
    }
    todo: list[tuple[int, int]] = []
    for member in audience:
        if member.group != "targeted" or member.fan_id is None:
            continue
        count, last_seq, has_occasion = held.get(member.fan_id, (0, 0, 0))
        if has_occasion:
            report.already += 1
        elif count >= campaign.per_fan_limit:
            report.at_limit += 1
        else:
            todo.append((member.fan_id, last_seq + 1))
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        issued = _issue_chunk(session, campaign.id, chunk, occasion, now)
        if issued is not None:
            report.issued.extend(issued)
            report.already += len(chunk) - len(issued)
            continue
        for position, (fan_id, _) in enumerate(chunk):
            result = issue_coupon(session, campaign.id, fan_id, now, occasion)
            if result.status == "issued" and result.coupon is not None:
                report.issued.append(result.coupon)
            elif result.status == "already":
                report.already += 1
            elif result.status == "limit":
                report.at_limit += 1
            elif result.status == "cap":
                # The cap is reached: nobody after this fan gets one in this run.
                report.over_cap += len(todo) - start - position
                return report
            else:
                report.inactive = True
                return report
    return report
