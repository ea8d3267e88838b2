"""Partners and their staff access codes.

Public functions: :func:`create_partner`, :func:`set_access_code`, :func:`check_access_code`.
Access codes are stored as salted scrypt hashes; checking compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from coupons.models import Partner

__all__ = [
    "MIN_ACCESS_CODE_LENGTH",
    "check_access_code",
    "create_partner",
    "hash_access_code",
    "set_access_code",
]

MIN_ACCESS_CODE_LENGTH = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_access_code(code: str) -> str:
    """``scrypt$<salt hex>$<hash hex>`` for a staff access code."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(code.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_access_code(partner: Partner, code: str) -> bool:
    """Whether ``code`` is the partner's access code (False for an inactive partner)."""
    try:
        scheme, salt_hex, digest_hex = partner.access_code_hash.split("$")
    except ValueError:
        return False
    if scheme != "scrypt" or not partner.active:
        return False
    digest = hashlib.scrypt(code.encode("utf-8"), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def set_access_code(partner: Partner, code: str) -> None:
    """Replace the partner's access code; refuses a short one with a Japanese message."""
    if len(code) < MIN_ACCESS_CODE_LENGTH:
        raise ValueError(f"アクセスコードは {MIN_ACCESS_CODE_LENGTH} 文字以上にしてください。")
    partner.access_code_hash = hash_access_code(code)


def create_partner(
    session: Session,
    *,
    name: str,
    access_code: str,
    now: datetime,
    category: str = "",
    address: str = "",
) -> Partner:
    """Add a partner (flushed, not committed)."""
    if not name.strip():
        raise ValueError("店舗名を入力してください。")
    partner = Partner(name=name.strip(), category=category, address=address, active=True, created_at=now)
    set_access_code(partner, access_code)
    session.add(partner)
    session.flush()
    return partner
