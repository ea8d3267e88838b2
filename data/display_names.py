"""LINE display names, kept only for fans who consented, so marketers can find a person.

The name is personal data: it is stored only while the fan's consent is current
(`data.consent`), and data deletion clears it with everything else (`data.privacy`).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from data.consent import current_consent_clause
from data.models import Fan

MAX_NAME_LENGTH = 200  # the column's size; LINE's own names are far shorter

__all__ = ["MAX_NAME_LENGTH", "store_display_name"]


def store_display_name(session: Session, line_user_id: str, name: str, consent_version: str) -> bool:
    """Store ``name`` for the fan with this LINE user id; False when they may not have it stored.

    One conditional UPDATE: a fan who deleted their data (or never consented) between
    the profile call and this write keeps no name.
    """
    cleaned = " ".join(name.split())[:MAX_NAME_LENGTH]
    if not cleaned:
        return False
    result = session.execute(
        update(Fan)
        .where(Fan.line_user_id == line_user_id, current_consent_clause(consent_version))
        .values(display_name=cleaned)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
