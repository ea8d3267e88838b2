"""Coupon codes people can read aloud and type: unguessable, with a check character.

A code is 13 random symbols drawn with ``secrets`` from a 30-letter alphabet without the
look-alikes 0/O, 1/I/L (and U, which reads as V) — 13·log2(30) ≈ 63.8 bits — followed by a
check character. It is shown as ``XXXX-XXXX-XXXX-XX``; hyphens, spaces, case and full-width
input are ignored when reading.

The check character is the Luhn mod N algorithm over the alphabet: it catches every
single mistyped symbol and every swap of two neighbours except "2Z" ↔ "Z2" (the first and
last symbols, Luhn's known blind spot), so a typo is told apart from a code that simply
does not exist ("打ち間違い" versus "見つかりません").

Public functions: :func:`new_code`, :func:`normalize`, :func:`has_valid_check`,
:func:`format_code`.
"""

from __future__ import annotations

import secrets
import unicodedata

__all__ = ["ALPHABET", "CODE_LENGTH", "format_code", "has_valid_check", "new_code", "normalize"]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_SYMBOLS = 13
CODE_LENGTH = RANDOM_SYMBOLS + 1
_INDEX = {symbol: position for position, symbol in enumerate(ALPHABET)}


def _check_character(body: str) -> str:
    """Luhn mod N check character for ``body`` (every symbol in the alphabet)."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for symbol in reversed(body):
        addend = factor * _INDEX[symbol]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def new_code() -> str:
    """A fresh random code (normalized form, no hyphens)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
    return body + _check_character(body)


def normalize(text: str) -> str:
    """What a person typed or a QR held, as a code: width-folded, upper case, separators dropped.

    The result may still be malformed; see :func:`has_valid_check`.
    """
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-ー‐−_")


def has_valid_check(code: str) -> bool:
    """Whether a normalized code has the right length, alphabet and check character."""
    if len(code) != CODE_LENGTH or any(symbol not in _INDEX for symbol in code):
        return False
    return _check_character(code[:-1]) == code[-1]


def format_code(code: str) -> str:
    """The code as shown to people: ``ABCD-EFGH-JKMN-PQ``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
