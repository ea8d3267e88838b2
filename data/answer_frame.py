"""The fan database as the analysis reads it: one row per respondent, one column per item.

Speed matters here: at 100,000 respondents × 185 items about 9 million answers are read on
every analysis. Whatever builds a Python object per answer -- ORM rows, the driver's tuples
(about 1.5 µs each through ``fetchmany`` and ``numpy.fromiter``), a long DataFrame to pivot
-- costs tens of seconds; so does ``COPY ... TO STDOUT`` through psycopg, which hands over
one message per row. Instead the database packs the answers into a few large values that
numpy reads in one call each:

* PostgreSQL: per item, ``string_agg(int8send(fan_id) || float8send(value))`` -- one bytea
  of 16-byte big-endian records, exact to the bit, read from a server-side cursor one item
  at a time;
* SQLite (no binary output functions): per range of answer ids, the comma-joined decimal
  text of ``fan_id × items + column`` and of the value, which ``numpy.fromstring`` parses
  in C. The column comes from a temporary ``(item_id, column)`` table joined to each
  answer. Values are sent as integers -- every catalog answer is a whole number -- and a
  range holding any value that is not gets read again exactly, row by row.

Which fans count is decided by one small query on ``fans`` with the one consent rule
(`data.consent.analysable_clause`), and applied to the answers in numpy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.catalog import Catalog
from data.consent import analysable_clause
from data.models import Fan

# Answer ids per SQLite query: about 12 MB of text each, so memory stays flat.
SQLITE_ID_RANGE = 1_000_000
_CODES = "fanbot_item_columns"  # the temporary item -> column table on SQLite
_RECORD = np.dtype([("fan_id", ">i8"), ("value", ">f8")])

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Chunk = tuple[IntArray, IntArray, FloatArray]  # fan ids, column positions, values


def answers_frame(session: Session, catalog: Catalog, consent_version: str) -> pd.DataFrame:
    """Every usable answer, pivoted wide: index ``fan_id``, item columns in catalog order, NaN = not answered.

    Usable means given by a LINE fan with current consent to the text ``consent_version``
    (`data.consent.analysable_clause`: answers given under an older text wait until the fan
    agrees to the new one), or by an anonymous respondent (imported or demo). Items nobody
    answered, items outside the catalog and respondents without any answer are left out.
    """
    fans = np.fromiter(
        session.scalars(select(Fan.id).where(analysable_clause(consent_version)).order_by(Fan.id)),
        dtype=np.int64,
    )
    items = catalog.ids()
    matrix = np.full((len(fans), len(items)), np.nan)
    seen = np.zeros((len(fans), len(items)), dtype=bool)
    row_of = _row_lookup(fans)
    for fan_ids, columns, values in _answers(session, items):
        rows = row_of(fan_ids)
        keep = rows >= 0
        matrix[rows[keep], columns[keep]] = values[keep]
        seen[rows[keep], columns[keep]] = True
    answered_items = np.asarray(seen.any(axis=0), dtype=bool)
    answering_fans = np.asarray(seen.any(axis=1), dtype=bool)
    del seen
    if not (answered_items.all() and answering_fans.all()):
        matrix = matrix[np.ix_(answering_fans, answered_items)]
    return pd.DataFrame(
        matrix,
        index=pd.Index(fans[answering_fans], name="fan_id"),
        columns=[item for item, used in zip(items, answered_items.tolist(), strict=True) if used],
        copy=False,
    )


def _row_lookup(fans: IntArray) -> Callable[[IntArray], IntArray]:
    """A function from fan ids to their rows in the sorted ``fans`` (-1 for fans not in it).

    Fan ids are mostly dense, so a table indexed by id answers in one gather; a binary
    search of 10 million ids cost half a second. Sparse ids fall back to the search.
    """
    if not len(fans):
        return lambda ids: np.full(len(ids), -1, dtype=np.int64)
    low, high = int(fans[0]), int(fans[-1])
    if high - low > 4 * len(fans) + 1_000_000:

        def search(ids: IntArray) -> IntArray:
            rows = np.searchsorted(fans, ids)
            found = rows < len(fans)
            found[found] &= fans[rows[found]] == ids[found]
            return np.where(found, rows, -1)

        return search
    table = np.full(high - low + 1, -1, dtype=np.int64)
    table[fans - low] = np.arange(len(fans))

    def gather(ids: IntArray) -> IntArray:
        inside = (ids >= low) & (ids <= high)
        rows = np.full(len(ids), -1, dtype=np.int64)
        rows[inside] = table[ids[inside] - low]
        return rows

    return gather


def _answers(session: Session, items: list[str]) -> Iterator[Chunk]:
    """All stored answers to ``items`` in chunks, from the driver (other items are skipped)."""
    connection = session.connection()
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    if connection.dialect.name == "postgresql":
        yield from _postgresql_answers(dbapi, items)
    else:
        yield from _sqlite_answers(dbapi, items)


def _postgresql_answers(dbapi: Any, items: list[str]) -> Iterator[Chunk]:
    column_of = {item: position for position, item in enumerate(items)}
    with dbapi.cursor() as cursor:
        # Cursors are planned for their first 10 % of rows by default, which picks a walk of
        # the item_id index (random reads of the whole table, 5x slower) over one scan.
        cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
    # A named cursor streams the per-item rows instead of holding all of them client-side;
    # binary results give the bytea as raw bytes, not hex text.
    with dbapi.cursor(name="fanbot_answers_by_item") as cursor:
        cursor.itersize = 4
        cursor.execute(
            "SELECT item_id, string_agg(int8send(fan_id) || float8send(value), ''::bytea) "
            "FROM answers GROUP BY item_id",
            binary=True,
        )
        for item_id, packed in cursor:
            column = column_of.get(item_id)
            if column is None:
                continue
            records = np.frombuffer(packed, dtype=_RECORD)
            yield (
                records["fan_id"].astype(np.int64),
                np.full(len(records), column, dtype=np.int64),
                records["value"].astype(np.float64),
            )


def _sqlite_answers(dbapi: Any, items: list[str]) -> Iterator[Chunk]:
    k = len(items)
    if not k:
        return
    # Outside a transaction (a plain engine's session, where the driver begins one only before
    # a write), the temporary table's writes would open one and pin this connection's view of
    # the database; it is committed below, and it holds nothing but the temporary table.
    opened_here = not dbapi.in_transaction
    cursor = dbapi.cursor()
    try:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_CODES} "
            "(item_id TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID"
        )
        cursor.execute(f"DELETE FROM temp.{_CODES}")
        cursor.executemany(f"INSERT INTO temp.{_CODES} VALUES (?, ?)", [(i, p) for p, i in enumerate(items)])
        first, last = cursor.execute("SELECT min(id), max(id) FROM answers").fetchone()
        if first is None:
            return
        # CROSS JOIN keeps answers as the outer loop: one table scan, one lookup per answer.
        joined = (
            f"FROM answers a CROSS JOIN temp.{_CODES} c ON c.item_id = a.item_id "
            "WHERE a.id >= :start AND a.id < :stop"
        )
        packed = (
            f"SELECT count(*), group_concat(a.fan_id * :k + c.position), "
            f"group_concat(CASE WHEN a.value = CAST(a.value AS INTEGER) THEN CAST(a.value AS INTEGER) END) "
            f"{joined}"
        )
        exact = f"SELECT a.fan_id * :k + c.position, a.value {joined}"
        for start in range(first, last + 1, SQLITE_ID_RANGE):
            span = {"k": k, "start": start, "stop": start + SQLITE_ID_RANGE}
            count, keys_text, values_text = cursor.execute(packed, span).fetchone()
            if not count:
                continue
            keys, whole = _integers(keys_text), _integers(values_text)
            if len(keys) == count and len(whole) == count:
                values = whole.astype(np.float64)
            else:
                # A value that is not a whole number (group_concat skipped its NULL): read
                # this range exactly, one tuple per answer.
                rows = cursor.execute(exact, span).fetchall()
                keys = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                values = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
            fan_ids, columns = np.divmod(keys, k)
            yield fan_ids, columns, values
    finally:
        cursor.execute(f"DROP TABLE IF EXISTS temp.{_CODES}")
        cursor.close()
        if opened_here and dbapi.in_transaction:
            dbapi.commit()


def _integers(text: str | None) -> IntArray:
    """Comma-separated integers parsed in C; what cannot be read ends the array early."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.int64, sep=",")
        except (ValueError, DeprecationWarning):
            return np.zeros(0, dtype=np.int64)
