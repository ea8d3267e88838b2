"""Postback data: a small versioned format parsed in one place.

``fb1:<kind>:<arg>:<arg>...`` — short enough for LINE's 300-character limit, and
every tap carries what the handler needs to tell a current button from a stale
or forged one.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "fb1"
MAX_LENGTH = 300  # LINE's limit for postback action data

# kind -> number of arguments it carries
KINDS: dict[str, int] = {
    "consent": 2,  # answer ("yes"/"no"), consent text version
    "answer": 3,  # item id, value, round id
    "skip": 2,  # item id, round id (skip this item for the rest of the round)
    "change": 1,  # item id (ask an answered item again, to change the answer)
    "delete": 1,  # "yes"/"no" (data deletion confirmation)
    "survey": 0,  # start a survey round
    "coupons": 0,  # show my coupons
    "schedule": 0,  # show game schedule
    "settings": 0,  # show settings
    "stop": 1,  # round id ("今日はここまで": close the open round)
    "changes": 2,  # category (or "recent"), page: list answers to pick one to change
}


class PostbackError(ValueError):
    """Postback data that this bot did not produce (or no longer understands)."""


@dataclass(frozen=True)
class Postback:
    kind: str
    args: tuple[str, ...] = ()

    def encode(self) -> str:
        if self.kind not in KINDS or len(self.args) != KINDS[self.kind]:
            raise ValueError(f"postback {self.kind!r} takes {KINDS.get(self.kind)} arguments")
        if any(":" in arg for arg in self.args):
            raise ValueError("postback arguments cannot contain ':'")
        data = ":".join((PREFIX, self.kind, *self.args))
        if len(data) > MAX_LENGTH:
            raise ValueError(f"postback data is {len(data)} characters; LINE allows {MAX_LENGTH}")
        return data


def encode(kind: str, *args: str) -> str:
    return Postback(kind, tuple(args)).encode()


def parse(data: str) -> Postback:
    if len(data) > MAX_LENGTH:
        raise PostbackError("postback data too long")
    parts = data.split(":")
    if len(parts) < 2 or parts[0] != PREFIX:
        raise PostbackError("unknown postback format")
    kind, args = parts[1], tuple(parts[2:])
    if kind not in KINDS:
        raise PostbackError(f"unknown postback kind {kind!r}")
    if len(args) != KINDS[kind]:
        raise PostbackError(f"postback {kind!r} has {len(args)} arguments, expected {KINDS[kind]}")
    return Postback(kind, args)
