"""Reading survey answer files (CSV or XLSX) into a numeric DataFrame, with clear errors.

Messages are Japanese because the CLI and the admin pages show them to marketers as-is.
Row numbers are the file's own (the header is row 1), as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ID_COLUMNS", "AnswerFileError", "read_answers"]

ID_COLUMNS = ("fan_id", "id")


class AnswerFileError(ValueError):
    """An answer file cannot be used; ``column`` and ``row`` locate the problem when known."""

    def __init__(self, message: str, *, column: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.row = row


def read_answers(path: str | Path) -> pd.DataFrame:
    """Read a survey answer file: one row per respondent, one column per item.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` (UTF-8, with or without BOM, or Shift_JIS as Excel saves it) or ``.xlsx``
        with a single sheet. A ``fan_id`` or ``id`` column becomes the index; every other
        column is an item. Blank cells mean "not answered".

    Returns
    -------
    pandas.DataFrame
        float64 columns named by item id, NaN = not answered.

    Raises
    ------
    AnswerFileError
        (a ``ValueError``) for an empty file, fewer than two items, repeated column names,
        an XLSX with more than one sheet, or a non-numeric value (the message names the
        column and the first bad row).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        header, raw = _read_csv(path)
    elif suffix == ".xlsx":
        header, raw = _read_xlsx(path)
    else:
        raise AnswerFileError(f"{path.name}: CSV (.csv) か Excel (.xlsx) のファイルを指定してください")
    return _to_answers(path.name, header, raw)


def _read_csv(path: Path) -> tuple[list[str], pd.DataFrame]:
    encoding = "utf-8-sig"
    try:
        with path.open(encoding=encoding, newline="") as fh:
            first = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        encoding = "cp932"
        with path.open(encoding=encoding, newline="") as fh:
            first = next(csv.reader(fh), None)
    if first is None or not any(cell.strip() for cell in first):
        raise AnswerFileError(f"{path.name}: ファイルが空です（列名の行がありません）")
    header = [cell.strip() for cell in first]
    _check_header(path.name, header)
    # Strings only: numbers are parsed below so that a bad cell can be reported by position.
    raw = pd.read_csv(
        path,
        encoding=encoding,
        dtype=str,
        keep_default_na=False,
        header=0,
        names=header,
    )
    return header, raw


def _read_xlsx(path: Path) -> tuple[list[str], pd.DataFrame]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        if len(workbook.sheetnames) != 1:
            names = "、".join(workbook.sheetnames)
            raise AnswerFileError(
                f"{path.name}: シートが {len(workbook.sheetnames)} 枚あります（{names}）。"
                "回答のシート 1 枚だけのファイルにしてください"
            )
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    if not rows or not any(cell is not None and str(cell).strip() for cell in rows[0]):
        raise AnswerFileError(f"{path.name}: ファイルが空です（列名の行がありません）")
    header = ["" if cell is None else str(cell).strip() for cell in rows[0]]
    _check_header(path.name, header)
    body = [list(r) + [None] * (len(header) - len(r)) for r in rows[1:]]
    raw = pd.DataFrame([r[: len(header)] for r in body], columns=header, dtype=object)
    return header, raw


def _check_header(name: str, header: list[str]) -> None:
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if not column:
            raise AnswerFileError(f"{name}: {position} 列目の列名が空です", row=1)
        if column in seen:
            raise AnswerFileError(f"{name}: 列名 '{column}' が 2 回以上あります", column=column, row=1)
        seen.add(column)


def _to_answers(name: str, header: list[str], raw: pd.DataFrame) -> pd.DataFrame:
    ids = [c for c in header if c in ID_COLUMNS]
    if len(ids) > 1:
        raise AnswerFileError(f"{name}: 回答者の列は fan_id か id のどちらか 1 つにしてください")
    items = [c for c in header if c not in ID_COLUMNS]
    if len(raw) == 0:
        raise AnswerFileError(f"{name}: 回答の行がありません")
    if len(items) < 2:
        raise AnswerFileError(f"{name}: 項目が {len(items)} 列しかありません。相関には 2 項目以上が必要です")
    columns = {column: _parse_column(name, column, raw[column]) for column in items}
    frame = pd.DataFrame(columns)
    if ids:
        frame.index = pd.Index(raw[ids[0]].astype(str).str.strip(), name=ids[0])
    return frame


def _parse_column(name: str, column: str, cells: pd.Series) -> pd.Series:
    # CSV columns arrive as strings already; the vectorised path keeps large files fast.
    as_text = cells.astype(str).str.strip() if cells.dtype != object else cells.map(_cell_text).astype(str)
    blank = as_text == ""
    numbers = pd.to_numeric(as_text.where(~blank, None), errors="coerce").astype(np.float64)
    bad = (numbers.isna() & ~blank) | np.isinf(numbers)
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        # +2: the header is file row 1 and positions count from 0.
        row = position + 2
        raise AnswerFileError(
            f"{name}: 列 '{column}' の {row} 行目に数値でない値 '{as_text.iloc[position]}' があります",
            column=column,
            row=row,
        )
    return numbers.rename(column).reset_index(drop=True)


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        # Excel TRUE/FALSE cells: yes/no answers are 1/0.
        return "1" if cell else "0"
    if isinstance(cell, float) and math.isnan(cell):
        return ""
    return str(cell).strip()
