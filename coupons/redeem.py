"""Redeeming a coupon at the shop: exactly once, only at its own partner, only while valid.

Public function: :func:`redeem`. The redemption itself is one conditional UPDATE::

    UPDATE coupons SET state = 'redeemed', redeemed_at = :now
    WHERE code = :code AND partner_id = :partner AND state = 'issued' AND fan_id IS NOT NULL
      AND valid_from <= :now AND expires_at > :now

Its row count says whether this attempt redeemed the coupon, so of any number of concurrent
attempts exactly one succeeds. Only when it did not is the coupon read again to say why, in
Japanese, for the staff member at the counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from coupons.codes import has_valid_check, normalize
from coupons.models import AudienceMember, Coupon, LookalikeScore
from coupons.qr import AlteredQRError, read_scanned

__all__ = ["REASONS", "Redemption", "forget_fan", "inspect", "redeem"]

TOKYO = ZoneInfo("Asia/Tokyo")

REASONS = {
    "redeemed": "利用を受け付けました。",
    "usable": "ご利用いただけるクーポンです。内容を確認して「利用する」を押してください。",
    "mistyped": "コードの打ち間違いのようです。もう一度ご確認ください。",
    "altered": (
        "このQRコードは正しくありません（書き換えられた可能性があります）。コードを手で入力してください。"
    ),
    "unknown": "このコードのクーポンは見つかりません。",
    "other_shop": "このクーポンは他の店舗のものです。",
    "used": "このクーポンは利用済みです（{when}）。",
    "expired": "このクーポンは有効期限が切れています（{when}まで）。",
    "not_yet": "このクーポンはまだ使えません（{when}から）。",
}


@dataclass(frozen=True)
class Redemption:
    """``reason`` is a key of :data:`REASONS`; ``message`` the Japanese sentence for staff."""

    ok: bool
    reason: str
    message: str
    coupon: Coupon | None = None


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(TOKYO)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _result(reason: str, coupon: Coupon | None = None, when: datetime | None = None) -> Redemption:
    ok = reason in ("redeemed", "usable")
    return Redemption(ok, reason, REASONS[reason].format(when=_when(when)), coupon)


def _read_code(text: str, qr_key: bytes | None) -> str | Redemption:
    """The code in what staff typed or scanned, or the refusal when it cannot be one."""
    if qr_key is None:
        code = normalize(text)
    else:
        try:
            code = read_scanned(text, qr_key)
        except AlteredQRError:
            return _result("altered")
    return code if has_valid_check(code) else _result("mistyped")


def _why_not(coupon: Coupon | None, partner_id: int, now: datetime) -> Redemption | None:
    """Why this coupon cannot be redeemed at ``partner_id`` now; None when it can.

    The one statement of the rule, in Python, that :func:`redeem`'s conditional UPDATE states in SQL.
    """
    if coupon is None or coupon.fan_id is None or coupon.state == "void":
        # A deleted fan's coupon no longer exists for anyone.
        return _result("unknown")
    if coupon.partner_id != partner_id:
        return _result("other_shop")
    if coupon.state == "redeemed":
        return _result("used", coupon, coupon.redeemed_at)
    if now < coupon.valid_from:
        return _result("not_yet", coupon, coupon.valid_from)
    if now >= coupon.expires_at:
        return _result("expired", coupon, coupon.expires_at)
    return None


def _find(session: Session, code: str) -> Coupon | None:
    return session.execute(
        select(Coupon).where(Coupon.code == code).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def inspect(
    session: Session, text: str, partner_id: int, now: datetime, *, qr_key: bytes | None = None
) -> Redemption:
    """What staff see before tapping 「利用する」: the coupon and whether it can be redeemed here now.

    Changes nothing. ``ok`` with reason ``usable`` means a redemption would succeed at this moment
    (another device may still redeem it first: only :func:`redeem` decides).
    """
    code = _read_code(text, qr_key)
    if isinstance(code, Redemption):
        return code
    coupon = _find(session, code)
    refusal = _why_not(coupon, partner_id, now)
    return refusal if refusal is not None else _result("usable", coupon)


def redeem(
    session: Session, text: str, partner_id: int, now: datetime, *, qr_key: bytes | None = None
) -> Redemption:
    """Redeem the coupon whose code (typed, or scanned from its QR when ``qr_key`` is given) is ``text``."""
    code = _read_code(text, qr_key)
    if isinstance(code, Redemption):
        return code
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Coupon)
        .where(
            Coupon.code == code,
            Coupon.partner_id == partner_id,
            Coupon.state == "issued",
            Coupon.fan_id.is_not(None),
            Coupon.valid_from <= now,
            Coupon.expires_at > now,
        )
        .values(state="redeemed", redeemed_at=now)
        .execution_options(synchronize_session=False)
    )
    coupon = _find(session, code)
    if done.rowcount == 1:
        return _result("redeemed", coupon)
    refusal = _why_not(coupon, partner_id, now)
    # The UPDATE and the rule agree; if the row changed in between, it was redeemed meanwhile.
    return refusal if refusal is not None else _result("used", coupon, coupon.redeemed_at if coupon else None)


def forget_fan(session: Session, fan_id: int) -> int:
    """Detach a deleted fan from their coupons and audience records, drop their scores; return coupons voided.

    Called with `data.privacy.delete_fan_data` in the same transaction. Unused coupons stop
    working at once (a shop sees "unknown"); every row stays, without the fan, so issued,
    redeemed and holdout counts in reports are kept anonymously.
    """

    voided: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Coupon)
        .where(Coupon.fan_id == fan_id, Coupon.state == "issued")
        .values(state="void")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Coupon)
        .where(Coupon.fan_id == fan_id)
        .values(fan_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(AudienceMember)
        .where(AudienceMember.fan_id == fan_id)
        .values(fan_id=None)
        .execution_options(synchronize_session=False)
    )
    # A score's reasons repeat the fan's answers: they go with the answers.
    session.execute(
        delete(LookalikeScore)
        .where(LookalikeScore.fan_id == fan_id)
        .execution_options(synchronize_session=False)
    )
    return int(voided.rowcount)
