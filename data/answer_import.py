"""Importing survey answer files (CSV or XLSX) that were collected outside LINE.

The layout is wide: one row per respondent, one column per catalog item id, and an
optional ``fan_id`` (or ``id``) column. A row whose id is an existing LINE fan updates
that fan; any other row is an anonymous respondent (``source='import'``, no LINE user,
so never targeted) that still counts for the analysis.

Messages are Japanese because they are shown to marketers as they are, and rows are
numbered as a spreadsheet shows them (the header is row 1).

Nothing here commits: the caller commits once, so a failed import leaves nothing.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Float, Select, String, Table, bindparam, cast, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

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

ID_COLUMNS = ("fan_id", "id")
IMPORT_SOURCE = "import"
EXTERNAL_REF_PREFIX = "import:"
MAX_ID_LENGTH = 128 - len(EXTERNAL_REF_PREFIX)  # Fan.external_ref is VARCHAR(128)
ENCODINGS = ("utf-8-sig", "cp932")  # cp932 is what Japanese Excel writes for "CSV"
ROW_CHUNK = 1000  # respondents resolved and answers upserted per round trip batch
LOOKUP_CHUNK = 500  # ids per IN (...) lookup, well under every driver's parameter limit


class AnswerFileError(ValueError):
    """The file cannot be read as an answer file at all; the message is Japanese."""


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


# -- reading ----------------------------------------------------------------------------


def read_answer_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or XLSX answer file as raw strings, without judging its contents.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` in UTF-8 (with or without BOM) or cp932/Shift_JIS, or ``.xlsx`` with
        exactly one sheet.

    Returns
    -------
    pandas.DataFrame
        Object columns of ``str`` named by the header cells as written (stripped;
        blank header cells become ``""``; repeated names are kept, for
        `import_answers` to report). Blank cells are ``""``. The index is the
        spreadsheet row number of each row (the header is row 1); rows with no value
        at all are dropped, so Excel's empty trailing rows disappear.

    Raises
    ------
    AnswerFileError
        For another file type, an unreadable or empty file, an undecodable CSV, or
        an XLSX with more than one sheet.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _read_csv_rows(path)
    elif suffix == ".xlsx":
        rows = _read_xlsx_rows(path)
    elif suffix in (".xls", ".xlsm", ".ods", ".numbers"):
        raise AnswerFileError(
            f"{path.name}: この形式は読めません。"
            "Excelで「Excelブック (.xlsx)」か「CSV」で保存し直してください。"
        )
    else:
        raise AnswerFileError(f"{path.name}: CSV（.csv）かExcel（.xlsx）のファイルを指定してください。")
    return _to_frame(path.name, rows)


def _read_csv_rows(path: Path) -> list[list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AnswerFileError(f"{path.name}: ファイルを読めません（{exc.strerror}）。") from exc
    if b"\x00" in data:
        raise AnswerFileError(f"{path.name}: CSVのテキストファイルではないようです。")
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return list(csv.reader(io.StringIO(text, newline="")))
    raise AnswerFileError(
        f"{path.name}: 文字コードを判別できません。UTF-8かShift_JISのCSVで保存し直してください。"
    )


def _read_xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    if not zipfile.is_zipfile(path):
        raise AnswerFileError(f"{path.name}: Excel（.xlsx）ファイルとして読めません。")
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it ignores; the values are what matter.
            warnings.simplefilter("ignore", UserWarning)
            workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise AnswerFileError(f"{path.name}: Excel（.xlsx）ファイルとして読めません（{exc}）。") from exc
    try:
        if len(workbook.sheetnames) != 1:
            names = "、".join(workbook.sheetnames)
            raise AnswerFileError(
                f"{path.name}: シートが{len(workbook.sheetnames)}枚あります（{names}）。"
                "回答のシート1枚だけのファイルにしてください。"
            )
        sheet = workbook.worksheets[0]
        return [[_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """An Excel cell as the text a person sees in it (``3`` not ``3.0``; TRUE as 1)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _to_frame(name: str, rows: list[list[str]]) -> pd.DataFrame:
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if not numbered:
        raise AnswerFileError(f"{name}: ファイルが空です。")
    header_number, header_row = numbered[0]
    if header_number != 1:
        # A blank first row would shift every row number the marketer sees; say so instead.
        raise AnswerFileError(f"{name}: 1行目が空です。1行目に項目IDの見出しを入れてください。")
    data = numbered[1:]
    width = max(len(row) for _, row in numbered)
    header = [cell.strip() for cell in header_row] + [""] * (width - len(header_row))
    body = [row + [""] * (width - len(row)) for _, row in data]
    frame = pd.DataFrame(
        np.array(body, dtype=object).reshape(len(body), width),
        columns=pd.Index(header, dtype=object),
        index=pd.Index([number for number, _ in data], name="row"),
    )
    return frame


def column_letter(position: int) -> str:
    """Spreadsheet column name of the 0-based ``position``: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


# -- importing --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    id_position: int | None
    items: list[tuple[int, Item]]  # (column position, item)


def _header_key(name: object) -> str:
    return unicodedata.normalize("NFKC", str(name)).strip().lower()


def _check_header(frame: pd.DataFrame, catalog: Catalog) -> tuple[_Layout | None, list[str]]:
    keys = [_header_key(name) for name in frame.columns]
    # Question texts as headers are a common mistake: recognise them to say what to write instead.
    by_text = {_header_key(item.text_ja): item.id for item in catalog.values()}
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
) -> ImportReport:
    """Store the answers of a frame from `read_answer_file`; never commits.

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

    keep = [position for position in range(len(frame)) if position not in problems]
    answered = ~np.isnan(values)
    resolver = _RespondentResolver(session, now)
    item_ids = [item.id for _, item in layout.items]
    for start in range(0, len(keep), ROW_CHUNK):
        chunk = [p for p in keep[start : start + ROW_CHUNK] if answered[p].any()]
        report.rows_without_answers += len(keep[start : start + ROW_CHUNK]) - len(chunk)
        fan_ids = resolver.resolve([ids[p] for p in chunk])
        latest: dict[tuple[int, str], float] = {}
        for position, fan_id in zip(chunk, fan_ids, strict=True):
            for column in np.flatnonzero(answered[position]).tolist():
                latest[(fan_id, item_ids[column])] = float(values[position, column])
        _upsert_answers(session, latest, now)
        report.answers_stored += len(latest)

    report.respondents_created = resolver.created
    report.respondents_updated = len(resolver.updated)
    report.line_fans_updated = resolver.line_fans_updated
    return report


def _normalize_id(raw: object) -> str | None:
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    return text or None


class _RespondentResolver:
    """Maps the id cells of a file to fan ids, creating anonymous respondents as needed.

    An id that is the ``Fan.id`` of a current LINE fan (not deleted) is that fan; any
    other id is the anonymous respondent ``import:<id>`` (the same one on every
    import); a row without an id is a new anonymous respondent each time.
    """

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.by_key: dict[str, int] = {}  # "line:<id>" or "import:<id>" -> fan id
        self.created = 0
        self.updated: set[int] = set()
        self.line_fans_updated = 0
        self._new: set[int] = set()

    def resolve(self, ids: Sequence[str | None]) -> list[int]:
        unknown = sorted({i for i in ids if i is not None and not self._known(i)})
        self._load_line_fans([i for i in unknown if i.isascii() and i.isdigit()])
        self._load_imported([i for i in unknown if not self._known(i)])
        pending: list[tuple[int, Fan]] = []
        new_refs: dict[str, Fan] = {}
        for position, value in enumerate(ids):
            if value is not None and self._known(value):
                continue
            if value is None:
                fan = Fan(source=IMPORT_SOURCE, created_at=self.now)
            elif (ref := EXTERNAL_REF_PREFIX + value) in new_refs:
                fan = new_refs[ref]
            else:
                fan = new_refs[ref] = Fan(source=IMPORT_SOURCE, external_ref=ref, created_at=self.now)
            pending.append((position, fan))
        unique_new = list({id(fan): fan for _, fan in pending}.values())
        if unique_new:
            self.session.add_all(unique_new)
            self.session.flush()
            self.created += len(unique_new)
            for fan in unique_new:
                self._new.add(fan.id)
                if fan.external_ref is not None:
                    self.by_key[fan.external_ref] = fan.id
        resolved: list[int] = []
        fresh = dict(pending)
        for position, value in enumerate(ids):
            if position in fresh:
                resolved.append(fresh[position].id)
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


def _upsert_answers(session: Session, latest: dict[tuple[int, str], float], now: datetime) -> None:
    """Upsert a batch of answers in one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``.

    The same upsert as `data.answers.record_answer` (the latest answer wins, with
    its time), but the rows travel as arrays (PostgreSQL ``unnest``) or one JSON
    document (SQLite ``json_each``): an executemany of per-row inserts spent most
    of its time in per-row driver and parameter handling (measured 2-3x slower).
    The keys of ``latest`` are unique, as one statement may not touch a row twice.
    """
    if not latest:
        return
    fan_ids = [fan_id for fan_id, _ in latest]
    item_ids = [item_id for _, item_id in latest]
    values = list(latest.values())
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        source, params = _postgresql_rows(fan_ids, item_ids, values, now)
    elif dialect == "sqlite":
        source, params = _sqlite_rows(fan_ids, item_ids, values, now)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    statement = upsert(
        session, _answers_table(), source, columns=_COLUMNS, keys=ANSWER_KEY, update=latest_answer_wins
    )
    session.connection().execute(statement, params)


_COLUMNS = ("fan_id", "item_id", "value", "answered_at")


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


def _sqlite_rows(
    fan_ids: list[int], item_ids: list[str], values: list[float], now: datetime
) -> tuple[Select[Any], dict[str, Any]]:
    rows = func.json_each(bindparam("rows", type_=String())).table_valued("value")
    source = select(
        func.json_extract(rows.c.value, "$[0]"),
        func.json_extract(rows.c.value, "$[1]"),
        func.json_extract(rows.c.value, "$[2]"),
        bindparam("now", type_=UTCDateTime()),
    ).where(true())  # SQLite needs a WHERE to read the ON of "ON CONFLICT" as an upsert
    payload = json.dumps(list(zip(fan_ids, item_ids, values, strict=True)), separators=(",", ":"))
    return source, {"rows": payload, "now": now}
