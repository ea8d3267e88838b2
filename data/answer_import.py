"""Importing survey answer files (CSV or XLSX) that were collected outside LINE.

The layout is wide: one row per respondent, one column per catalog item id, and an
optional ``fan_id`` (or ``id``) column. A row whose id is an existing LINE fan updates
that fan; any other row is an anonymous respondent (``source='import'``, no LINE user,
so never targeted) that still counts for the analysis.

Files are read by the one reader, :mod:`data.answer_file`. Messages are Japanese because
they are shown to marketers as they are, and rows are numbered as a spreadsheet shows them
(the header is row 1).

Nothing here commits. A file with errors writes nothing (every cell is checked before the first
write); a good file is written in chunks of `ROW_CHUNK` respondents, and a caller on SQLite passes
``after_chunk=session.commit`` so that the database's single write lock is released between
chunks and webhooks are not stalled behind a large import.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Select,
    String,
    Table,
    bindparam,
    cast,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from data.answer_file import ID_COLUMNS, AnswerFileError, column_letter, header_key, read_answer_file
from data.answers import ANSWER_KEY, AnswerError, latest_answer_wins, parse_value
from data.catalog import Catalog, Item
from data.database import upsert
from data.models import Answer, Fan, UTCDateTime

__all__ = [
    "ID_COLUMNS",
    "IMPORT_SOURCE",
    "AnswerFileError",
    "ImportReport",
    "SkippedRow",
    "column_letter",
    "import_answers",
    "read_answer_file",
]

IMPORT_SOURCE = "import"
EXTERNAL_REF_PREFIX = "import:"
MAX_ID_LENGTH = 128 - len(EXTERNAL_REF_PREFIX)  # Fan.external_ref is VARCHAR(128)
ROW_CHUNK = 1000  # respondents resolved and answers upserted per round trip batch
LOOKUP_CHUNK = 500  # ids per IN (...) lookup, well under every driver's parameter limit


@dataclass(frozen=True)
class SkippedRow:
    row: int  # spreadsheet row number (header = 1)
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.row}行目: " + " / ".join(self.reasons)


@dataclass
class ImportReport:
    """What an import did, or why it did nothing (``errors`` not empty)."""

    rows_read: int = 0
    respondents_created: int = 0
    respondents_updated: int = 0
    line_fans_updated: int = 0
    answers_stored: int = 0
    rows_without_answers: int = 0
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# -- importing --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    id_position: int | None
    items: list[tuple[int, Item]]  # (column position, item)


def _check_header(frame: pd.DataFrame, catalog: Catalog) -> tuple[_Layout | None, list[str]]:
    keys = [header_key(name) for name in frame.columns]
    # Question texts as headers are a common mistake: recognise them to say what to write instead.
    by_text = {header_key(item.text_ja): item.id for item in catalog.values()}
    known = set(catalog) | set(ID_COLUMNS) | set(by_text)
    if not any(key in known for key in keys):
        return None, [
            "1行目に見出し（項目IDの行）がありません。1行目に項目ID（例: "
            f"{next(iter(catalog), 'item_id')}）や fan_id を並べてください。"
        ]
    errors: list[str] = []
    seen: dict[str, int] = {}
    id_positions: list[int] = []
    items: list[tuple[int, Item]] = []
    for position, key in enumerate(keys):
        letter = column_letter(position)
        if not key:
            if (frame.iloc[:, position].map(_is_blank)).all():
                continue  # an empty column with no header: nothing to import, nothing to say
            errors.append(
                f"{letter}列: 見出しが空ですが値が入っています。項目IDを入れるか列を削除してください。"
            )
            continue
        if key in seen:
            errors.append(
                f"{letter}列: 見出し「{key}」が{column_letter(seen[key])}列と重複しています。"
                "同じ項目の列は1つにしてください。"
            )
            continue
        seen[key] = position
        if key in ID_COLUMNS:
            id_positions.append(position)
        elif key in catalog:
            items.append((position, catalog[key]))
        elif key in by_text:
            errors.append(
                f"{letter}列: 見出しが質問文です。見出しには項目ID「{by_text[key]}」を使ってください。"
            )
        else:
            errors.append(
                f"{letter}列: 「{str(frame.columns[position]).strip()}」は質問カタログにない項目IDです。"
            )
    if len(id_positions) > 1:
        errors.append("fan_id 列と id 列の両方があります。回答者のIDはどちらか1列にしてください。")
    if not items and not errors:
        errors.append("項目IDの列が1つもありません。")
    if errors:
        return None, errors
    return _Layout(id_positions[0] if id_positions else None, items), []


def _is_blank(raw: object) -> bool:
    return not unicodedata.normalize("NFKC", str(raw)).strip()


def _parse_column(item: Item, column: pd.Series) -> tuple[np.ndarray, dict[int, str]]:
    """Parsed values (NaN = blank) and, per bad row position, the Japanese reason.

    Each distinct raw text is parsed once: real files repeat a handful of values.
    """
    codes, uniques = pd.factorize(column, sort=False)
    parsed = np.full(len(uniques), np.nan)
    bad: dict[int, str] = {}
    for code, raw in enumerate(uniques):
        if _is_blank(raw):
            continue
        try:
            parsed[code] = parse_value(item, raw)
        except AnswerError as error:
            bad[code] = f"「{raw}」は使えません。{error}"
    values = parsed[codes]
    problems: dict[int, str] = {}
    if bad:
        for position in np.flatnonzero(np.isin(codes, list(bad))):
            problems[int(position)] = bad[int(codes[position])]
    return values, problems


def import_answers(
    session: Session,
    frame: pd.DataFrame,
    catalog: Catalog,
    *,
    skip_bad_rows: bool,
    now: datetime,
    after_chunk: Callable[[], None] | None = None,
    store: bool = True,
) -> ImportReport:
    """Store the answers of a frame from `read_answer_file`; commits only through ``after_chunk``.

    Parameters
    ----------
    session : Session
        Answers and respondents are written into it; the caller commits (or rolls
        back when the report has errors).
    frame : pandas.DataFrame
        Raw strings, index = spreadsheet row numbers (as `read_answer_file` returns).
    catalog : Catalog
        The item ids columns must name, and each item's type and range.
    skip_bad_rows : bool
        False: any bad cell means nothing is stored. True: rows with a bad cell are
        skipped (and listed) and the other rows are stored. File-level problems
        (missing header, unknown or repeated columns) always stop the import.
    now : datetime
        Time stamped on every stored answer (and on new respondents).
    after_chunk : callable, optional
        Called after each chunk is written (never when the file has errors, which writes
        nothing): ``session.commit`` keeps each write transaction short.
    store : bool, default True
        False: a dry run for a preview. Everything is checked and counted exactly as an
        import would, but nothing is written (new respondents get stand-in ids), so the
        preview never holds SQLite's write lock for the length of an import.

    Returns
    -------
    ImportReport
        Counts, skipped rows, and ``errors`` (when not empty, nothing was written).
    """
    report = ImportReport(rows_read=len(frame))
    layout, header_errors = _check_header(frame, catalog)
    if layout is None:
        report.errors.extend(header_errors)
        return report

    row_numbers = [int(number) for number in frame.index]
    values = np.full((len(frame), len(layout.items)), np.nan)
    problems: dict[int, list[str]] = {}
    for index, (position, item) in enumerate(layout.items):
        column_values, column_problems = _parse_column(item, frame.iloc[:, position])
        values[:, index] = column_values
        for row_position, reason in column_problems.items():
            problems.setdefault(row_position, []).append(
                f"{column_letter(position)}列（{item.id}）: {reason}"
            )

    ids: list[str | None] = [None] * len(frame)
    if layout.id_position is not None:
        ids = [_normalize_id(raw) for raw in frame.iloc[:, layout.id_position]]
        id_column = f"{column_letter(layout.id_position)}列（{frame.columns[layout.id_position]}）"
        for row_position, value in enumerate(ids):
            if value is not None and len(value) > MAX_ID_LENGTH:
                problems.setdefault(row_position, []).insert(
                    0, f"{id_column}: IDが長すぎます（{MAX_ID_LENGTH}文字まで）。"
                )

    if problems:
        ordered = sorted(problems.items())
        if not skip_bad_rows:
            report.errors.extend(
                f"{row_numbers[row_position]}行目 {reason}"
                for row_position, reasons in ordered
                for reason in reasons
            )
            return report
        report.skipped_rows = [
            SkippedRow(row_numbers[row_position], tuple(reasons)) for row_position, reasons in ordered
        ]

    usable = np.ones(len(frame), dtype=bool)
    usable[list(problems)] = False
    keep = np.flatnonzero(usable)
    answered = ~np.isnan(values)
    has_answers = answered.any(axis=1)
    resolver = _RespondentResolver(session, now, store=store)
    item_ids = np.asarray([item.id for _, item in layout.items], dtype=object)
    for start in range(0, len(keep), ROW_CHUNK):
        block = keep[start : start + ROW_CHUNK]
        chunk = block[has_answers[block]]
        report.rows_without_answers += len(block) - len(chunk)
        fan_ids = np.asarray(resolver.resolve([ids[p] for p in chunk.tolist()]), dtype=np.int64)
        # Every answered cell of the chunk, row by row in file order.
        rows, columns = np.nonzero(answered[chunk])
        batch = (fan_ids[rows], columns, values[chunk[rows], columns])
        if len(np.unique(fan_ids)) < len(fan_ids):  # a respondent on several rows of the chunk
            batch = _latest_answers(*batch, len(item_ids))
        if not store:
            report.answers_stored += len(batch[0])
        elif session.get_bind().dialect.name == "postgresql":
            # Respondents created for this chunk have no answers yet: their rows need no
            # conflict check and go in by binary COPY; the others are upserted.
            fresh = np.isin(batch[0], np.fromiter(resolver.just_created, dtype=np.int64))
            _copy_answers(session, batch[0][fresh], item_ids, batch[1][fresh], batch[2][fresh], now)
            batch = (batch[0][~fresh], batch[1][~fresh], batch[2][~fresh])
            report.answers_stored += int(fresh.sum())
        if store:
            _upsert_answers(session, batch[0], item_ids[batch[1]].tolist(), batch[2], now)
            report.answers_stored += len(batch[0])
        if after_chunk is not None:
            after_chunk()

    report.respondents_created = resolver.created
    report.respondents_updated = len(resolver.updated)
    report.line_fans_updated = resolver.line_fans_updated
    return report


def _latest_answers(
    fan_ids: npt.NDArray[np.int64], columns: npt.NDArray[np.intp], values: npt.NDArray[np.float64], width: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """One answer per (respondent, item): when a respondent has several rows, the later row wins.

    One upsert statement may not touch a row twice, and the rule is the one
    `data.answers.record_answer` applies one answer at a time.
    """
    keys = fan_ids * width + columns
    # The first occurrence in reverse is the last in file order.
    _, from_end = np.unique(keys[::-1], return_index=True)
    last = np.sort(len(keys) - 1 - from_end)
    return fan_ids[last], columns[last], values[last]


def _normalize_id(raw: object) -> str | None:
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    return text or None


class _RespondentResolver:
    """Maps the id cells of a file to fan ids, creating anonymous respondents as needed.

    An id that is the ``Fan.id`` of a current LINE fan (not deleted) is that fan; any
    other id is the anonymous respondent ``import:<id>`` (the same one on every
    import); a row without an id is a new anonymous respondent each time.
    """

    def __init__(self, session: Session, now: datetime, *, store: bool = True) -> None:
        self.session = session
        self.now = now
        self.store = store  # False: new respondents get negative stand-in ids, nothing is inserted
        self.by_key: dict[str, int] = {}  # "line:<id>" or "import:<id>" -> fan id
        self.created = 0
        self.updated: set[int] = set()
        self.line_fans_updated = 0
        self._new: set[int] = set()
        self.just_created: set[int] = set()  # by the last `resolve`

    def resolve(self, ids: Sequence[str | None]) -> list[int]:
        unknown = sorted({i for i in ids if i is not None and not self._known(i)})
        self._load_line_fans([i for i in unknown if i.isascii() and i.isdigit()])
        self._load_imported([i for i in unknown if not self._known(i)])
        # One new respondent per row without an id, one per new written id; each is a
        # slot index into the rows inserted below.
        slots: list[str | None] = []
        slot_of_position: dict[int, int] = {}
        slot_of_ref: dict[str, int] = {}
        for position, value in enumerate(ids):
            if value is not None and self._known(value):
                continue
            if value is None:
                slot_of_position[position] = len(slots)
                slots.append(None)
                continue
            ref = EXTERNAL_REF_PREFIX + value
            if ref not in slot_of_ref:
                slot_of_ref[ref] = len(slots)
                slots.append(ref)
            slot_of_position[position] = slot_of_ref[ref]
        new_ids: list[int] = []
        if slots:
            # One multi-row INSERT ... RETURNING in parameter order: the ORM's unit of work
            # spent a round trip per respondent here (100,000 of them in a large file).
            if self.store:
                rows = [
                    {"source": IMPORT_SOURCE, "external_ref": ref, "created_at": self.now} for ref in slots
                ]
                # The Core table: the ORM's bulk insert path spent 40 µs per respondent here.
                fans = Fan.metadata.tables[Fan.__tablename__]
                statement = insert(fans).returning(fans.c.id, sort_by_parameter_order=True)
                new_ids = list(self.session.execute(statement, rows).scalars())
            else:
                new_ids = list(range(-self.created - 1, -self.created - len(slots) - 1, -1))
            self.created += len(new_ids)
            self._new.update(new_ids)
            for ref, slot in slot_of_ref.items():
                self.by_key[ref] = new_ids[slot]
        self.just_created = set(new_ids)
        resolved: list[int] = []
        for position, value in enumerate(ids):
            if position in slot_of_position:
                resolved.append(new_ids[slot_of_position[position]])
                continue
            assert value is not None
            fan_id = self._lookup(value)
            if fan_id not in self._new:
                if fan_id not in self.updated and self.by_key.get("line:" + value) == fan_id:
                    self.line_fans_updated += 1
                self.updated.add(fan_id)
            resolved.append(fan_id)
        return resolved

    def _known(self, value: str) -> bool:
        return ("line:" + value) in self.by_key or (EXTERNAL_REF_PREFIX + value) in self.by_key

    def _lookup(self, value: str) -> int:
        line = self.by_key.get("line:" + value)
        return line if line is not None else self.by_key[EXTERNAL_REF_PREFIX + value]

    def _load_line_fans(self, ids: list[str]) -> None:
        numbers = [int(i) for i in ids if len(i) <= 18]  # beyond BIGINT is never a fan id
        for chunk in _chunks(numbers, LOOKUP_CHUNK):
            rows = self.session.execute(
                select(Fan.id).where(Fan.id.in_(chunk), Fan.source == "line", Fan.deleted_at.is_(None))
            )
            for (fan_id,) in rows:
                self.by_key["line:" + str(fan_id)] = fan_id
        # "007" and "7" are the same number but different ids as written: map the written form.
        for text in ids:
            if len(text) <= 18 and ("line:" + str(int(text))) in self.by_key and text != str(int(text)):
                self.by_key["line:" + text] = self.by_key["line:" + str(int(text))]

    def _load_imported(self, ids: list[str]) -> None:
        refs = [EXTERNAL_REF_PREFIX + i for i in ids]
        for chunk in _chunks(refs, LOOKUP_CHUNK):
            rows = self.session.execute(select(Fan.external_ref, Fan.id).where(Fan.external_ref.in_(chunk)))
            for ref, fan_id in rows:
                self.by_key[str(ref)] = fan_id


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _upsert_answers(
    session: Session,
    fan_ids: npt.NDArray[np.int64],
    item_ids: list[str],
    values: npt.NDArray[np.float64],
    now: datetime,
) -> None:
    """Upsert a batch of answers: the latest answer wins, with its time.

    The same rule as `data.answers.record_answer`, in bulk. PostgreSQL gets the rows as
    three arrays in one ``INSERT ... SELECT unnest(...) ON CONFLICT DO UPDATE``. SQLite gets
    one prepared ``INSERT ... ON CONFLICT DO UPDATE`` run by the driver's ``executemany``
    in C: the earlier ``json_each`` form parsed JSON three times per answer and took about
    10 µs each (90 s for 9 million answers). The (fan, item) pairs are unique, as one
    statement may not touch a row twice.
    """
    if not len(fan_ids):
        return
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        source, params = _postgresql_rows(fan_ids.tolist(), item_ids, values.tolist(), now)
        statement = upsert(
            session, _answers_table(), source, columns=_COLUMNS, keys=ANSWER_KEY, update=latest_answer_wins
        )
        session.connection().execute(statement, params)
        return
    # SQLite: the same upsert compiled once and run by the driver's executemany in C;
    # SQLAlchemy's per-row parameter handling cost more than SQLite's own work. The time is
    # bound as the stored text, converted once (the datetime adapter per row cost 4 µs).
    stamp = UTCDateTime().process_bind_param(now, dialect)
    stored = dialect.type_descriptor(DateTime()).bind_processor(dialect)
    when = stored(stamp) if stored is not None else stamp
    placeholders: dict[str, Any] = {name: bindparam(name) for name in _COLUMNS}
    compiled = upsert(
        session, _answers_table(), placeholders, keys=ANSWER_KEY, update=latest_answer_wins
    ).compile(dialect=dialect)
    # The VALUES list follows _COLUMNS; the ON CONFLICT part binds nothing.
    assert list(compiled.positiontup or ()) == list(_COLUMNS), compiled.positiontup
    rows = list(zip(fan_ids.tolist(), item_ids, values.tolist(), repeat(when)))
    session.connection().exec_driver_sql(compiled.string, rows)


_COLUMNS = ("fan_id", "item_id", "value", "answered_at")
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, no flags, no header extension
_COPY_TRAILER = b"\xff\xff"
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _copy_answers(
    session: Session,
    fan_ids: npt.NDArray[np.int64],
    item_ids: npt.NDArray[np.object_],
    columns: npt.NDArray[np.intp],
    values: npt.NDArray[np.float64],
    now: datetime,
) -> None:
    """Insert new answers with ``COPY ... FROM STDIN (FORMAT BINARY)``; the caller ensures none exists.

    The binary rows are laid out by numpy, one fixed-size record type per item (the item id
    is the only field whose length varies), so no Python object is made per answer: the
    ``unnest`` arrays of `_upsert_answers` cost 4 µs per answer to send, and the conflict
    check doubles the server's work.
    """
    if not len(fan_ids):
        return
    micros = (now - _POSTGRES_EPOCH) // timedelta(microseconds=1)
    parts = [_COPY_HEADER]
    order = np.argsort(columns, kind="stable")
    starts = np.flatnonzero(np.diff(columns[order], prepend=-1))
    for begin, end in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
        picked = order[begin:end]
        item = str(item_ids[columns[picked[0]]]).encode()
        record = np.empty(
            len(picked),
            dtype=[
                ("fields", ">i2"),
                ("fan_size", ">i4"),
                ("fan_id", ">i8"),
                ("item_size", ">i4"),
                ("item_id", f"S{len(item)}"),
                ("value_size", ">i4"),
                ("value", ">f8"),
                ("time_size", ">i4"),
                ("answered_at", ">i8"),
            ],
        )
        record["fields"] = 4
        record["fan_size"] = record["value_size"] = record["time_size"] = 8
        record["fan_id"] = fan_ids[picked]
        record["item_size"] = len(item)
        record["item_id"] = item
        record["value"] = values[picked]
        record["answered_at"] = micros
        parts.append(record.tobytes())
    parts.append(_COPY_TRAILER)
    dbapi: Any = session.connection().connection.dbapi_connection  # a psycopg connection
    with (
        dbapi.cursor() as cursor,
        cursor.copy("COPY answers (fan_id, item_id, value, answered_at) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(b"".join(parts))


def _answers_table() -> Table:
    # The Core table: an ORM-enabled INSERT would treat the parameters as rows to insert.
    return Answer.metadata.tables[Answer.__tablename__]


def _postgresql_rows(
    fan_ids: list[int], item_ids: list[str], values: list[float], now: datetime
) -> tuple[Select[Any], dict[str, Any]]:
    rows = (
        func.unnest(
            cast(bindparam("fan_ids"), ARRAY(BigInteger)),
            cast(bindparam("item_ids"), ARRAY(String)),
            cast(bindparam("values"), ARRAY(Float)),
        )
        .table_valued("fan_id", "item_id", "value")
        .render_derived()
    )
    source = select(rows.c.fan_id, rows.c.item_id, rows.c.value, bindparam("now", type_=UTCDateTime()))
    return source, {"fan_ids": fan_ids, "item_ids": item_ids, "values": values, "now": now}
