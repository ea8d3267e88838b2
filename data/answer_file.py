"""The one reader of survey answer files (CSV or XLSX), shared by the import and the analysis.

The layout is wide: one row per respondent, one column per item id, an optional
``fan_id`` (or ``id``) column, blank = not answered. Reading happens in two steps:

* :func:`read_answer_file` turns the file into raw cell texts, without judging them (the
  import reports every bad cell by row and column and may skip rows);
* :func:`numeric_answers` turns those texts into the numeric frame the analysis uses, and
  stops at the first bad cell, naming its row and column.

:func:`read_answers` does both. Messages are Japanese because marketers read them as they
are; rows are numbered as a spreadsheet shows them (the header is row 1) and columns by
their letters.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from data.answers import AnswerError, parse_value
from data.catalog import Catalog, Item

__all__ = [
    "ENCODINGS",
    "ID_COLUMNS",
    "AnswerFileError",
    "column_letter",
    "header_key",
    "numeric_answers",
    "read_answer_file",
    "read_answers",
]

ID_COLUMNS = ("fan_id", "id")
ENCODINGS = ("utf-8-sig", "cp932")  # cp932 is what Japanese Excel writes for "CSV"
# cp932 maps its unassigned lead bytes (0xFD–0xFF) to the Private Use Area instead of
# failing: a character there is a byte that means nothing, not something a person typed.
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_MERGE_REF = re.compile(rb'<mergeCell[^>]*\sref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


class AnswerFileError(ValueError):
    """The file cannot be used; the message is Japanese. ``column``/``row`` locate it when known."""

    def __init__(self, message: str, *, column: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.row = row


def column_letter(position: int) -> str:
    """Spreadsheet column name of the 0-based ``position``: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def header_key(name: object) -> str:
    """A header cell as an item id: width-folded, trimmed, lower case."""
    return unicodedata.normalize("NFKC", str(name)).strip().lower()


# -- raw cells ----------------------------------------------------------------------------


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
        blank header cells become ``""``; repeated names are kept, for the caller to
        report). Blank cells are ``""``. The index is the spreadsheet row number of each
        row (the header is row 1); rows with no value at all are dropped, so Excel's empty
        trailing rows disappear.

    Raises
    ------
    AnswerFileError
        For another file type, an unreadable or empty file, an undecodable CSV (or one
        holding bytes that are no character in Shift_JIS), an XLSX with more than one
        sheet, merged cells, or formulas whose values Excel never saved.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix == ".xlsx":
        frame = _read_xlsx(path)
    elif suffix in (".xls", ".xlsm", ".ods", ".numbers"):
        raise AnswerFileError(
            f"{path.name}: この形式は読めません。"
            "Excelで「Excelブック (.xlsx)」か「CSV」で保存し直してください。"
        )
    else:
        raise AnswerFileError(f"{path.name}: CSV（.csv）かExcel（.xlsx）のファイルを指定してください。")
    return _numbered(path.name, frame)


def _decode(path: Path) -> str:
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
        if (odd := _PRIVATE_USE.search(text)) is not None:
            line = text.count("\n", 0, odd.start()) + 1
            raise AnswerFileError(
                f"{path.name}: {line}行目に文字として読めないバイトがあります。"
                "UTF-8かShift_JISのCSVで保存し直してください。",
                row=line,
            )
        return text
    raise AnswerFileError(
        f"{path.name}: 文字コードを判別できません。UTF-8かShift_JISのCSVで保存し直してください。"
    )


def _read_csv(path: Path) -> pd.DataFrame:
    text = _decode(path)
    if not text.strip():
        raise AnswerFileError(f"{path.name}: ファイルが空です。")
    try:
        # The C parser, strings only: numbers are judged later so each bad cell can be named.
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise AnswerFileError(f"{path.name}: ファイルが空です。") from exc
    except pd.errors.ParserError:
        # Ragged rows (more cells than the header): the csv module reads them, and the
        # header check reports the cells without a heading.
        rows = list(csv.reader(io.StringIO(text, newline="")))
        width = max(len(row) for row in rows)
        frame = pd.DataFrame([row + [""] * (width - len(row)) for row in rows], dtype=object)
    return frame


def _read_xlsx(path: Path) -> pd.DataFrame:
    from openpyxl import load_workbook

    if not zipfile.is_zipfile(path):
        raise AnswerFileError(f"{path.name}: Excel（.xlsx）ファイルとして読めません。")
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it ignores; the values are what matter.
            warnings.simplefilter("ignore", UserWarning)
            values = load_workbook(path, read_only=True, data_only=True)
            formulas = load_workbook(path, read_only=True, data_only=False)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise AnswerFileError(f"{path.name}: Excel（.xlsx）ファイルとして読めません（{exc}）。") from exc
    try:
        if len(values.sheetnames) != 1:
            names = "、".join(values.sheetnames)
            raise AnswerFileError(
                f"{path.name}: シートが{len(values.sheetnames)}枚あります（{names}）。"
                "回答のシート1枚だけのファイルにしてください。"
            )
        _refuse_merged_cells(path)
        rows: list[list[str]] = []
        unsaved: list[str] = []
        value_rows = values.worksheets[0].iter_rows(values_only=True)
        formula_rows = formulas.worksheets[0].iter_rows(values_only=True)
        for number, (row, written) in enumerate(zip(value_rows, formula_rows, strict=False), start=1):
            for position, (value, source) in enumerate(zip(row, written, strict=False)):
                # A formula that Excel never calculated and saved has no value to read:
                # reading it as blank would drop an answer without a word.
                if value is None and isinstance(source, str) and source.startswith("="):
                    unsaved.append(f"{column_letter(position)}{number}")
            rows.append([_cell_text(value) for value in row])
    finally:
        values.close()
        formulas.close()
    if unsaved:
        shown = "、".join(unsaved[:10]) + ("など" if len(unsaved) > 10 else "")
        raise AnswerFileError(
            f"{path.name}: 計算結果が保存されていない数式のセルがあります（{shown}）。"
            "Excelで開いて保存し直すか、数式を値に置き換えてください。"
        )
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)


def _refuse_merged_cells(path: Path) -> None:
    # openpyxl's read-only sheets do not report merged ranges; the sheet XML does.
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet") and n.endswith(".xml")]
        merged = [ref.decode() for name in sheets for ref in _MERGE_REF.findall(archive.read(name))]
    if merged:
        shown = "、".join(merged[:10]) + ("など" if len(merged) > 10 else "")
        raise AnswerFileError(
            f"{path.name}: 結合されたセルがあります（{shown}）。結合したセルは左上の値しか読めません。"
            "結合を解除して、各セルに値を入れてください。"
        )


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


def _numbered(name: str, grid: pd.DataFrame) -> pd.DataFrame:
    """Header from the first row, body numbered as in a spreadsheet, empty rows dropped."""
    if grid.empty:
        raise AnswerFileError(f"{name}: ファイルが空です。")
    grid = grid.fillna("").astype(str)
    filled = _filled_rows(grid.to_numpy(dtype=object))
    if not filled.any():
        raise AnswerFileError(f"{name}: ファイルが空です。")
    if not filled[0]:
        # A blank first row would shift every row number the marketer sees; say so instead.
        raise AnswerFileError(f"{name}: 1行目が空です。1行目に項目IDの見出しを入れてください。")
    header = [cell.strip() for cell in grid.iloc[0].tolist()]
    body: pd.DataFrame = grid.iloc[1:].loc[filled[1:]].copy()
    body.columns = pd.Index(header, dtype=object)
    body.index = pd.Index(body.index.to_numpy() + 1, name="row")
    return body


def _filled_rows(cells: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """Rows with at least one cell that is not blank after stripping spaces.

    Stripping every cell of a 100,000-row file costs seconds; a row's first non-empty cell
    almost always decides, so only rows whose first such cell is all spaces are looked at
    cell by cell.
    """
    nonempty = cells != ""
    filled = np.zeros(len(cells), dtype=bool)
    candidates = np.flatnonzero(nonempty.any(axis=1))
    firsts = cells[candidates, nonempty[candidates].argmax(axis=1)]
    filled[candidates] = [bool(str(cell).strip()) for cell in firsts]
    for row in candidates[~filled[candidates]]:
        filled[row] = any(str(cell).strip() for cell in cells[row])
    return filled


# -- numbers for the analysis -------------------------------------------------------------


def numeric_answers(raw: pd.DataFrame, catalog: Catalog | None = None, *, name: str = "") -> pd.DataFrame:
    """The numeric answers of a frame from :func:`read_answer_file`, for the analysis.

    Parameters
    ----------
    raw : pandas.DataFrame
        Raw strings as :func:`read_answer_file` returns them.
    catalog : Catalog, optional
        Columns that name a catalog item are checked against it (yes/no, whole numbers
        from 0 to the item's ``max``): one out-of-range count can otherwise dominate r.
        Other columns must hold finite numbers.
    name : str
        The file name, for messages.

    Returns
    -------
    pandas.DataFrame
        float64 columns named by item id, NaN = not answered; the index is the ``fan_id``
        or ``id`` column when there is one, else the spreadsheet row numbers.

    Raises
    ------
    AnswerFileError
        For a blank or repeated header, both id columns, no rows, fewer than two items,
        or a bad value (the message names the column and the first bad row).
    """
    prefix = f"{name}: " if name else ""
    header = [str(c) for c in raw.columns]
    seen: dict[str, int] = {}
    for position, column in enumerate(header):
        letter = column_letter(position)
        if not column:
            raise AnswerFileError(f"{prefix}{letter}列の見出し（1行目）が空です。", row=1)
        key = header_key(column)
        if key in seen:
            raise AnswerFileError(
                f"{prefix}{letter}列: 見出し「{column}」が{column_letter(seen[key])}列と重複しています。",
                column=column,
                row=1,
            )
        seen[key] = position
    ids = [c for c in header if header_key(c) in ID_COLUMNS]
    if len(ids) > 1:
        raise AnswerFileError(f"{prefix}回答者の列は fan_id か id のどちらか1つにしてください。")
    items = [(p, c) for p, c in enumerate(header) if header_key(c) not in ID_COLUMNS]
    if len(raw) == 0:
        raise AnswerFileError(f"{prefix}回答の行がありません。")
    if len(items) < 2:
        raise AnswerFileError(f"{prefix}項目が{len(items)}列しかありません。相関には2項目以上が必要です。")
    rows = raw.index.to_numpy()
    columns: dict[str, np.ndarray] = {}
    for position, column in items:
        key = header_key(column)
        item = catalog.get(key) if catalog is not None else None
        columns[key if item is not None else column] = _numeric_column(
            prefix, column_letter(position), column, raw.iloc[:, position], rows, item
        )
    frame = pd.DataFrame(columns)
    if ids:
        frame.index = pd.Index(raw[ids[0]].astype(str).str.strip().to_numpy(), name=ids[0])
    else:
        frame.index = pd.Index(rows, name="row")
    return frame


def _numeric_column(
    prefix: str, letter: str, column: str, cells: pd.Series, rows: np.ndarray, item: Item | None
) -> np.ndarray:
    text = cells.astype(str).str.strip()
    blank = (text == "").to_numpy()
    numbers = pd.to_numeric(text.where(~blank, None), errors="coerce").to_numpy(dtype=np.float64)
    if item is not None:
        # Each distinct text is parsed once by the catalog's own rule (units, はい/いいえ, range).
        codes, uniques = pd.factorize(text, sort=False)
        parsed = np.full(len(uniques), np.nan)
        for code, raw in enumerate(uniques):
            if not str(raw):
                continue
            try:
                parsed[code] = parse_value(item, raw)
            except AnswerError as error:
                position = int(np.flatnonzero(codes == code)[0])
                raise AnswerFileError(
                    f"{prefix}{letter}列（{column}）の{rows[position]}行目「{raw}」は使えません。{error}",
                    column=column,
                    row=int(rows[position]),
                ) from None
        values: np.ndarray = parsed[codes]
        return values
    bad = (np.isnan(numbers) & ~blank) | np.isinf(numbers)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise AnswerFileError(
            f"{prefix}{letter}列（{column}）の{rows[position]}行目に数値でない値「{text.iloc[position]}」があります。",
            column=column,
            row=int(rows[position]),
        )
    return numbers


def read_answers(path: str | Path, catalog: Catalog | None = None) -> pd.DataFrame:
    """Read an answer file straight into numbers (see :func:`numeric_answers`)."""
    return numeric_answers(read_answer_file(path), catalog, name=Path(path).name)
