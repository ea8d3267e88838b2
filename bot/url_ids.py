"""A URL converter for database ids: ASCII digits that fit a 64-bit column, so that an id too long for
the database is a plain 404 instead of an overflow deep in the driver."""

from __future__ import annotations

from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**63 - 1


class IdConverter(BaseConverter):
    regex = r"[0-9]{1,19}"
    weight = 50

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


def parse_page(raw: str | None, *, limit: int = 100_000) -> int | None:
    """A page number from a query string, or None when it is not a plain positive ASCII number in range."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(limit)):
        return None
    number = int(raw)
    return number if 1 <= number <= limit else None
