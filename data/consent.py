"""The one consent rule: whether a fan's consent is current, and whom the bot may reach.

A LINE fan consents to a versioned consent text (the version in force is the
application's ``Settings.consent_version``; the version a fan agreed to is stored in
``fans.consent_version`` with ``consented_at``). Consent is *current* only for the text
in force now. Every decision that depends on consent asks this module, in Python
(`has_current_consent`, `is_reachable`) or in SQL (`current_consent_clause`,
`reachable_clause`, `analysable_clause`), so the chat, pushes, audiences, the admin
counts and the analysis cannot disagree.

What a new consent text means for answers given under the old one
------------------------------------------------------------------
Publishing a new text (a new ``consent_version``) suspends every older consent at once:

- the chat asks the fan to agree to the new text before it asks anything else, and
  stores no new answer until they do;
- no push reaches the fan, and no audience selects them;
- their stored answers are *kept but unused*: the analysis, the exports and the
  lookalike scores leave them out.

If the fan agrees to the new text, their earlier answers count again (they are the
same person's answers, now covered by a text they accepted). If they decline or never
answer, the old answers stay unused until they agree or delete their data; deletion
removes them as always. Anonymous respondents (imported files, demo data: no LINE user
id, ``source != 'line'``) are outside this rule: they were surveyed under the source
survey's own terms, count for the analysis, and can never be reached.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from data.models import Fan

__all__ = [
    "analysable_clause",
    "current_consent_clause",
    "has_current_consent",
    "is_reachable",
    "reachable_clause",
]


def has_current_consent(fan: Fan, version: str) -> bool:
    """The fan agreed to the consent text ``version`` (the one in force) and has not deleted their data."""
    return fan.consented_at is not None and fan.deleted_at is None and fan.consent_version == version


def is_reachable(fan: Fan, version: str) -> bool:
    """A push or coupon may go to this fan: current consent, following, not opted out, a LINE user id."""
    return (
        has_current_consent(fan, version)
        and fan.is_following
        and fan.opted_out_at is None
        and fan.line_user_id is not None
    )


def current_consent_clause(version: str) -> ColumnElement[bool]:
    """`has_current_consent` as a WHERE clause on ``Fan``."""
    return and_(Fan.consented_at.is_not(None), Fan.deleted_at.is_(None), Fan.consent_version == version)


def reachable_clause(version: str) -> ColumnElement[bool]:
    """`is_reachable` as a WHERE clause on ``Fan``."""
    return and_(
        current_consent_clause(version),
        Fan.is_following.is_(True),
        Fan.opted_out_at.is_(None),
        Fan.line_user_id.is_not(None),
    )


def analysable_clause(version: str) -> ColumnElement[bool]:
    """Fans whose answers the analysis may use: anonymous respondents, and LINE fans with current consent."""
    return and_(Fan.deleted_at.is_(None), or_(Fan.source != "line", current_consent_clause(version)))
