"""The fan database as the analysis reads it: one row per respondent, one column per item."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.catalog import Catalog
from data.consent import analysable_clause
from data.models import Answer, Fan

CHUNK = 50_000


def answers_frame(session: Session, catalog: Catalog, consent_version: str) -> pd.DataFrame:
    """Every usable answer, pivoted wide: index ``fan_id``, item columns in catalog order, NaN = not answered.

    Usable means given by a LINE fan with current consent to the text ``consent_version``
    (`data.consent.analysable_clause`: answers given under an older text wait until the fan
    agrees to the new one), or by an anonymous respondent (imported or demo). Items nobody
    answered are left out.
    """
    query = (
        select(Answer.fan_id, Answer.item_id, Answer.value)
        .join(Fan, Fan.id == Answer.fan_id)
        .where(analysable_clause(consent_version))
        .execution_options(yield_per=CHUNK)
    )
    fan_ids: list[int] = []
    item_ids: list[str] = []
    values: list[float] = []
    for fan_id, item_id, value in session.execute(query):
        fan_ids.append(fan_id)
        item_ids.append(item_id)
        values.append(value)
    order = [item_id for item_id in catalog.ids() if item_id in set(item_ids)]
    if not fan_ids:
        return pd.DataFrame(index=pd.Index([], name="fan_id", dtype="int64"), columns=order, dtype="float64")
    long = pd.DataFrame(
        {"fan_id": np.asarray(fan_ids, dtype=np.int64), "item_id": item_ids, "value": np.asarray(values)}
    )
    wide = long.pivot(index="fan_id", columns="item_id", values="value")
    known = [item_id for item_id in order if item_id in wide.columns]
    wide = wide[known].astype("float64").sort_index()
    wide.columns.name = None
    return wide
