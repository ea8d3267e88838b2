from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from data.answer_file import AnswerFileError, read_answers


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
    with pytest.raises(AnswerFileError, match="C列（foo）の3行目に数値でない値「abc」") as info:
        read_answers(path)
    assert info.value.column == "foo" and info.value.row == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "空"),
        ("a,b\n", "回答の行がありません"),
        ("id,a\n1,1\n", "1列しか"),
        ("a,b,a\n1,0,1\n", "C列: 見出し「a」がA列と重複"),
        ("a,,b\n1,0,1\n", "B列の見出し（1行目）が空"),
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
    with pytest.raises(AnswerFileError, match="シートが2枚"):
        read_answers(path)


def test_other_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnswerFileError, match="CSV"):
        read_answers(_write(tmp_path, "a,b\n", name="answers.txt"))


def test_catalog_item_out_of_its_range_is_refused_naming_row_and_column(tmp_path: Path) -> None:
    from data.catalog import load_catalog

    catalog = load_catalog()
    counted = next(item for item in catalog.items if item.answer_type == "count")
    yes_no = next(item for item in catalog.items if item.is_yes_no)
    assert counted.max is not None
    too_many = int(counted.max) + 1
    path = _write(tmp_path, f"id,{yes_no.id},{counted.id}\n1,1,2\n2,0,{too_many}\n")
    with pytest.raises(
        AnswerFileError, match=f"C列（{counted.id}）の3行目「{too_many}」は使えません"
    ) as info:
        read_answers(path, catalog)
    assert info.value.row == 3
    # Without the catalog the same value is just a number: the catalog is what knows the range.
    assert read_answers(path).loc["2", counted.id] == too_many


def test_xlsx_formula_without_a_saved_value_is_refused_naming_the_cell(tmp_path: Path) -> None:
    from data.answer_file import read_answer_file

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["id", "a", "b"], ["1", 1, 0], ["2", "=B2+0", 1]):
        sheet.append(row)
    path = tmp_path / "formula.xlsx"
    book.save(path)  # openpyxl saves formulas without calculating them, as some tools do
    with pytest.raises(AnswerFileError, match="数式のセルがあります（B3）"):
        read_answer_file(path)


def test_xlsx_with_merged_cells_is_refused_naming_the_range(tmp_path: Path) -> None:
    from data.answer_file import read_answer_file

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["id", "a", "b"], ["1", 1, 0], ["2", 1, 1], ["3", 0, 1]):
        sheet.append(row)
    sheet.merge_cells("B2:B3")
    path = tmp_path / "merged.xlsx"
    book.save(path)
    with pytest.raises(AnswerFileError, match="結合されたセルがあります（B2:B3）"):
        read_answer_file(path)


def test_shift_jis_byte_that_is_no_character_is_refused_not_read_as_private_use(tmp_path: Path) -> None:
    from data.answer_file import read_answer_file

    path = tmp_path / "odd.csv"
    path.write_bytes("id,a,b\n".encode("cp932") + b"\x83\x65\xfd,1,0\n")
    assert b"\xfd".decode("cp932") == "\uf8f1"  # what a plain cp932 decode would have kept
    with pytest.raises(AnswerFileError, match="2行目に文字として読めないバイト"):
        read_answer_file(path)


def test_rows_keep_their_spreadsheet_numbers_when_blank_rows_are_dropped(tmp_path: Path) -> None:
    from data.answer_file import read_answer_file

    frame = read_answer_file(_write(tmp_path, "id,a,b\n1,1,0\n,,\n3,0,1\n"))
    assert list(frame.index) == [2, 4]
    assert list(frame.loc[4]) == ["3", "0", "1"]


def test_a_row_of_spaces_is_blank_but_a_value_after_spaces_keeps_its_row(tmp_path: Path) -> None:
    from data.answer_file import read_answer_file

    frame = read_answer_file(_write(tmp_path, "id,a,b\n1,1,0\n  , ,\u3000\n ,  ,1\n4,0,1\n"))
    assert list(frame.index) == [2, 4, 5]
    assert list(frame.loc[4]) == [" ", "  ", "1"]
