"""The fan database as the analysis reads it: one row per respondent, one column per item.

Speed matters here: at 100,000 respondents × 185 items about 9 million answers are read on
every analysis. Building a Python object per answer (ORM rows, tuples, a long DataFrame to
pivot) costs over a minute and gigabytes; instead the database concatenates each item's
respondents and values into two strings (one row per item), which numpy parses in C and
scatters straight into a preallocated float64 matrix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Select, Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from data.catalog import Catalog
from data.consent import analysable_clause
from data.models import Answer, Fan


def answers_frame(session: Session, catalog: Catalog, consent_version: str) -> pd.DataFrame:
    """Every usable answer, pivoted wide: index ``fan_id``, item columns in catalog order, NaN = not answered.

    Usable means given by a LINE fan with current consent to the text ``consent_version``
    (`data.consent.analysable_clause`: answers given under an older text wait until the fan
    agrees to the new one), or by an anonymous respondent (imported or demo). Items nobody
    answered, items outside the catalog and respondents without any answer are left out.
    """
    usable = analysable_clause(consent_version)
    by_item: dict[str, tuple[str, str]] = {}
    for item_id, fan_text, value_text in session.execute(_per_item_query(session, usable)):
        by_item[str(item_id)] = (str(fan_text), str(value_text))
    order = [item_id for item_id in catalog.ids() if item_id in by_item]
    if not order:
        return pd.DataFrame(index=pd.Index([], name="fan_id", dtype="int64"), columns=order, dtype="float64")
    fans_per_item = [np.array(by_item[i][0].split(","), dtype=np.int64) for i in order]
    fans = np.unique(np.concatenate(fans_per_item))
    matrix = np.full((len(fans), len(order)), np.nan)
    for column, (item_id, fan_ids) in enumerate(zip(order, fans_per_item, strict=True)):
        values = np.array(by_item[item_id][1].split(","), dtype=np.float64)
        matrix[np.searchsorted(fans, fan_ids), column] = values
    return pd.DataFrame(matrix, index=pd.Index(fans, name="fan_id"), columns=order)


def _per_item_query(session: Session, usable: ColumnElement[bool]) -> Select[tuple[str, str, str]]:
    """One row per item: its respondents' fan ids and their values, as two aligned strings."""
    if session.get_bind().dialect.name == "postgresql":
        # Aggregates may read rows in any order: sort both the same way to keep them aligned.
        comma: ColumnElement[str] = literal_column("','")
        fan_ids = func.string_agg(cast(Answer.fan_id, Text), aggregate_order_by(comma, Answer.fan_id))
        values = func.string_agg(cast(Answer.value, Text), aggregate_order_by(comma, Answer.fan_id))
    else:
        # SQLite feeds each row of a group to every aggregate in turn, so they stay aligned.
        fan_ids = func.group_concat(Answer.fan_id, ",")
        values = func.group_concat(Answer.value, ",")
    return (
        select(Answer.item_id, fan_ids, values)
        .join(Fan, Fan.id == Answer.fan_id)
        .where(usable)
        .group_by(Answer.item_id)
    )
