"""What a coupon's QR code holds, and how a scanned one is checked.

The QR holds ``FANBOT1:<code>:<mac>``, where ``mac`` is an HMAC-SHA256 of the code under the
app's QR key, cut to 16 base32 symbols (80 bits). A typed code needs no MAC (its check
character catches typos, and guessing a 64-bit code is hopeless); the MAC makes a QR whose
content was edited — a code swapped in by hand, a forged sticker — fail as "altered" instead of
being looked up.

Public functions: :func:`qr_payload`, :func:`read_scanned`, :func:`qr_png`, :func:`qr_mac`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io

import segno

from coupons.codes import normalize

__all__ = ["PREFIX", "AlteredQRError", "qr_mac", "qr_payload", "qr_png", "read_scanned"]

PREFIX = "FANBOT1:"
MAC_LENGTH = 16


class AlteredQRError(ValueError):
    """A scanned QR that claims to be a fanbot coupon but whose MAC does not match."""


def qr_mac(code: str, key: bytes) -> str:
    digest = hmac.new(key, f"coupon-qr:{code}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:MAC_LENGTH]


def qr_payload(code: str, key: bytes) -> str:
    """The text inside a coupon's QR code."""
    return f"{PREFIX}{code}:{qr_mac(code, key)}"


def read_scanned(text: str, key: bytes) -> str:
    """The coupon code in what staff typed or scanned.

    Text without the QR prefix is a typed code and is returned normalized (it may still be
    mistyped; the redemption rule checks that). A QR payload is returned as its code only if
    its MAC matches.

    Raises
    ------
    AlteredQRError
        If the text is a QR payload whose code or MAC was changed.
    """
    stripped = text.strip()
    if not stripped.upper().startswith(PREFIX):
        return normalize(stripped)
    body = stripped[len(PREFIX) :]
    code, _, mac = body.rpartition(":")
    if not code or not hmac.compare_digest(mac.encode(), qr_mac(code, key).encode()):
        raise AlteredQRError(body)
    return code


def qr_png(code: str, key: bytes, scale: int = 8) -> bytes:
    """The coupon's QR code as a PNG, with a quiet zone, at ``scale`` pixels per module."""
    buffer = io.BytesIO()
    segno.make(qr_payload(code, key), error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
