from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from segmentation.io import AnswerFileError, read_answers


def _write(tmp_path: Path, text: str, name: str = "answers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_fan_id_and_blanks(tmp_path: Path) -> None:
    frame = read_answers(_write(tmp_path, "fan_id,a,b\nf1,1,\nf2, 0 ,3\n"))
    assert list(frame.columns) == ["a", "b"]
    assert list(frame.index) == ["f1", "f2"]
    assert bool(frame["b"].isna()["f1"]) and frame.loc["f2", "a"] == 0.0


def test_non_numeric_value_names_column_and_first_bad_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,a,foo\n1,1,0\n2,0,abc\n3,1,xyz\n")
    with pytest.raises(AnswerFileError, match="列 'foo' の 3 行目に数値でない値 'abc'") as info:
        read_answers(path)
    assert info.value.column == "foo" and info.value.row == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "空"),
        ("a,b\n", "回答の行がありません"),
        ("id,a\n1,1\n", "1 列"),
        ("a,b,a\n1,0,1\n", "'a' が 2 回"),
    ],
)
def test_bad_files_get_clear_messages(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_answers(_write(tmp_path, text))


def test_shift_jis_csv(tmp_path: Path) -> None:
    path = tmp_path / "sjis.csv"
    path.write_bytes("fan_id,a,b\n太郎,1,0\n花子,0,1\n".encode("cp932"))
    assert list(read_answers(path).index) == ["太郎", "花子"]


def test_xlsx_single_sheet(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["fan_id", "a", "b"], ["f1", 1, None], ["f2", True, 2.5]):
        sheet.append(row)
    path = tmp_path / "answers.xlsx"
    book.save(path)
    frame = read_answers(path)
    assert frame.loc["f2", "a"] == 1.0 and bool(frame["b"].isna()["f1"])


def test_xlsx_with_extra_sheets_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    book.create_sheet("メモ")
    path = tmp_path / "two.xlsx"
    book.save(path)
    with pytest.raises(AnswerFileError, match="シートが 2 枚"):
        read_answers(path)


def test_other_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnswerFileError, match="CSV"):
        read_answers(_write(tmp_path, "a,b\n", name="answers.txt"))
