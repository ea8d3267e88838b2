"""Partner shops: create and edit with reasons in Japanese, and the staff access code (stored hashed).

Public functions: `save_partner(session, values, now, partner_id=None) -> Partner` (raises `PartnerError`
whose ``errors`` map each field to what is wrong), `issue_access_code(session, partner_id, now) -> str`
(a new code, returned once; only its hash is kept), `access_code_matches(partner, code) -> bool`.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from coupons.models import Partner

__all__ = [
    "ACCESS_CODE_ALPHABET",
    "PartnerError",
    "access_code_matches",
    "issue_access_code",
    "list_partners",
    "normalize_access_code",
    "save_partner",
]

LIMITS = {"name": 100, "category": 50, "address": 200}
ACCESS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a card, typed on a phone
ACCESS_CODE_LENGTH = 12  # about 59 bits: enough behind a throttled sign-in


class PartnerError(ValueError):
    """A partner that cannot be saved as given; ``errors`` maps each field to a Japanese reason."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors.items()))
        self.errors = dict(errors)


def _clean(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def save_partner(
    session: Session, values: Mapping[str, object], now: datetime, partner_id: int | None = None
) -> Partner:
    """Create (``partner_id`` None) or update a partner from form values; never commits."""
    cleaned = {field: _clean(values.get(field)) for field in LIMITS}
    errors: dict[str, str] = {}
    if not cleaned["name"]:
        errors["name"] = "店名を入力してください。"
    for field, limit in LIMITS.items():
        if len(cleaned[field]) > limit:
            errors[field] = f"{limit}文字以内で入力してください（いま{len(cleaned[field])}文字）。"
    same_name = select(func.count()).select_from(Partner).where(Partner.name == cleaned["name"])
    if partner_id is not None:
        same_name = same_name.where(Partner.id != partner_id)
    if "name" not in errors and session.scalar(same_name):
        errors["name"] = f"「{cleaned['name']}」という店名はすでに登録されています。"
    partner = session.get(Partner, partner_id) if partner_id is not None else None
    if partner_id is not None and partner is None:
        errors["name"] = "その店舗は見つかりません。"
    if errors:
        raise PartnerError(errors)
    if partner is None:
        partner = Partner(created_at=now)
        session.add(partner)
    partner.name = cleaned["name"]
    partner.category = cleaned["category"]
    partner.address = cleaned["address"]
    partner.active = bool(values.get("active", True))
    session.flush()
    return partner


def list_partners(session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.name)))


def normalize_access_code(code: str) -> str:
    return unicodedata.normalize("NFKC", code).replace("-", "").replace(" ", "").upper()


def issue_access_code(session: Session, partner_id: int, now: datetime) -> str:
    """Replace the shop's access code with a new random one and return it (the only time it is readable)."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise PartnerError({"name": "その店舗は見つかりません。"})
    code = "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))
    partner.access_code_hash = generate_password_hash(code, method="scrypt")
    partner.access_code_set_at = now
    session.flush()
    return code


def access_code_matches(partner: Partner, code: str) -> bool:
    if not partner.access_code_hash or not partner.active:
        return False
    return check_password_hash(partner.access_code_hash, normalize_access_code(code))
