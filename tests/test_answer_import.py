"""Importing survey answer files collected outside LINE (CSV and Excel)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.settings import CONSENT_VERSION
from data.answer_import import (
    AnswerFileError,
    ImportReport,
    column_letter,
    import_answers,
    read_answer_file,
)
from data.answers import record_answer
from data.catalog import Catalog, load_catalog
from data.consent import is_reachable
from data.models import Answer, Fan

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
BASEBALL = "interested_pro_baseball"  # yes_no
SOCCER = "interested_pro_soccer"  # yes_no
LIVE_GAMES = "live_games_per_year"  # count, 0..365


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def write_csv(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "answers.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(
    tmp_path: Path, rows: list[list[object]], *, sheets: int = 1, blank_styled_rows: int = 0
) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "回答"
    for row in rows:
        sheet.append(row)
    # Excel keeps formatted but empty rows below the data; they come back as rows of None.
    for offset in range(blank_styled_rows):
        for column in range(1, len(rows[0]) + 1):
            sheet.cell(row=len(rows) + 1 + offset, column=column).number_format = "0"
    for index in range(1, sheets):
        workbook.create_sheet(f"Sheet{index + 1}")
    path = tmp_path / "answers.xlsx"
    workbook.save(path)
    return path


def run_import(
    session: Session, path: Path, catalog: Catalog, *, skip_bad_rows: bool = False
) -> ImportReport:
    return import_answers(session, read_answer_file(path), catalog, skip_bad_rows=skip_bad_rows, now=NOW)


def answers_by_respondent(session: Session) -> dict[str | None, dict[str, float]]:
    rows = session.execute(select(Fan.external_ref, Answer.item_id, Answer.value).join(Answer.fan))
    result: dict[str | None, dict[str, float]] = {}
    for ref, item_id, value in rows:
        result.setdefault(ref, {})[item_id] = value
    return result


def count(session: Session, model: type[Fan] | type[Answer]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def line_fan(session: Session, user: str = "U" + "a" * 32, **fields: object) -> Fan:
    fan = Fan(line_user_id=user, source="line", is_following=True, consented_at=NOW - timedelta(days=3))
    for name, value in fields.items():
        setattr(fan, name, value)
    session.add(fan)
    session.flush()
    return fan


# -- reading ----------------------------------------------------------------------------


def test_utf8_csv_with_bom_is_read_as_strings_with_spreadsheet_row_numbers(tmp_path: Path) -> None:
    path = write_csv(tmp_path, f"id,{BASEBALL}\nr1,はい\n\nr2,\n", encoding="utf-8-sig")

    frame = read_answer_file(path)

    assert list(frame.columns) == ["id", BASEBALL]
    assert list(frame.index) == [2, 4]  # the blank line is row 3 in a spreadsheet
    assert frame.loc[2, BASEBALL] == "はい"
    assert frame.loc[4, BASEBALL] == ""


def test_shift_jis_csv_from_japanese_excel_is_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path, f"id,{BASEBALL}\r\nr1,いいえ\r\n", encoding="cp932")

    frame = read_answer_file(path)

    assert frame.loc[2, BASEBALL] == "いいえ"


def test_excel_empty_trailing_rows_are_ignored(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [["fan_id", BASEBALL, LIVE_GAMES], ["r1", 1, 12.0]], blank_styled_rows=30)

    frame = read_answer_file(path)

    assert list(frame.index) == [2]
    assert list(frame.iloc[0]) == ["r1", "1", "12"]


def test_excel_with_two_sheets_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [["fan_id", BASEBALL], ["r1", 1]], sheets=2)

    with pytest.raises(AnswerFileError, match="シートが2枚"):
        read_answer_file(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnswerFileError, match="空です"):
        read_answer_file(write_csv(tmp_path, ""))


def test_file_of_blank_lines_is_refused_as_empty(tmp_path: Path) -> None:
    with pytest.raises(AnswerFileError, match="空です"):
        read_answer_file(write_csv(tmp_path, "\n\n ,\n", encoding="utf-8-sig"))


@pytest.mark.parametrize("name", ["answers.txt", "answers.json", "answers.xls"])
def test_other_file_types_are_refused(tmp_path: Path, name: str) -> None:
    path = write_csv(tmp_path, f"id,{BASEBALL}\nr1,1\n", name=name)

    with pytest.raises(AnswerFileError, match=r"\.xlsx"):
        read_answer_file(path)


def test_csv_renamed_to_xlsx_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, f"id,{BASEBALL}\nr1,1\n", name="answers.xlsx")

    with pytest.raises(AnswerFileError, match="Excel"):
        read_answer_file(path)


def test_binary_file_named_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "answers.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")

    with pytest.raises(AnswerFileError, match="CSV"):
        read_answer_file(path)


def test_column_letters_follow_spreadsheet_names() -> None:
    assert [column_letter(p) for p in (0, 1, 25, 26, 27, 51, 52, 184)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "AZ",
        "BA",
        "GC",
    ]


# -- importing --------------------------------------------------------------------------


def test_rows_without_a_known_fan_become_anonymous_respondents_that_cannot_be_targeted(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    path = write_csv(tmp_path, f"id,{BASEBALL},{LIVE_GAMES}\nr1,はい,12\nr2,0,\n,YES,3\n")

    report = run_import(db_session, path, catalog)

    assert report.errors == []
    assert (report.rows_read, report.respondents_created, report.respondents_updated) == (3, 3, 0)
    assert report.answers_stored == 5
    fans = db_session.scalars(select(Fan)).all()
    assert {f.source for f in fans} == {"import"}
    assert all(f.line_user_id is None and not is_reachable(f, CONSENT_VERSION) for f in fans)
    stored = answers_by_respondent(db_session)
    assert stored["import:r1"] == {BASEBALL: 1.0, LIVE_GAMES: 12.0}
    assert stored["import:r2"] == {BASEBALL: 0.0}  # blank = not answered
    assert stored[None] == {BASEBALL: 1.0, LIVE_GAMES: 3.0}
    assert {a.answered_at for a in db_session.scalars(select(Answer))} == {NOW}


def test_yes_no_cells_accept_digits_japanese_and_english_words(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    rows = ["1", "0", "はい", "いいえ", "Yes", "NO", "ｙｅｓ"]
    text = f"id,{BASEBALL}\n" + "".join(f"r{i},{v}\n" for i, v in enumerate(rows))

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert report.errors == []
    stored = answers_by_respondent(db_session)
    assert [stored[f"import:r{i}"][BASEBALL] for i in range(len(rows))] == [1, 0, 1, 0, 1, 0, 1]


def test_full_width_digits_are_read_as_numbers(db_session: Session, tmp_path: Path, catalog: Catalog) -> None:
    fan = line_fan(db_session)
    text = f"fan_id,{LIVE_GAMES},{BASEBALL}\n{chr(0xFF10 + fan.id)},１２,１\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert report.errors == []
    assert report.line_fans_updated == 1
    stored = {a.item_id: a.value for a in db_session.scalars(select(Answer).where(Answer.fan_id == fan.id))}
    assert stored == {LIVE_GAMES: 12.0, BASEBALL: 1.0}


def test_a_line_fans_id_updates_that_fan_and_the_latest_answer_wins(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    fan = line_fan(db_session)
    record_answer(db_session, fan.id, BASEBALL, 0.0, NOW - timedelta(days=10))
    record_answer(db_session, fan.id, SOCCER, 1.0, NOW - timedelta(days=10))
    text = f"fan_id,{BASEBALL},{SOCCER}\n{fan.id},1,\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert (report.respondents_created, report.respondents_updated, report.line_fans_updated) == (0, 1, 1)
    answers = {a.item_id: a for a in db_session.scalars(select(Answer).where(Answer.fan_id == fan.id))}
    assert answers[BASEBALL].value == 1.0
    assert answers[BASEBALL].answered_at == NOW
    assert answers[SOCCER].value == 1.0  # blank cell: the earlier answer stays
    assert count(db_session, Fan) == 1


def test_a_deleted_fans_id_is_stored_as_an_anonymous_respondent(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    deleted = line_fan(db_session, line_user_id=None, deleted_at=NOW - timedelta(days=1))
    text = f"fan_id,{BASEBALL}\n{deleted.id},1\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert (report.respondents_created, report.line_fans_updated) == (1, 0)
    assert db_session.scalars(select(Answer).where(Answer.fan_id == deleted.id)).all() == []
    anonymous = db_session.scalars(select(Fan).where(Fan.source == "import")).one()
    assert anonymous.external_ref == f"import:{deleted.id}"
    assert anonymous.line_user_id is None


def test_reimporting_the_same_ids_updates_the_same_respondents(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    run_import(db_session, write_csv(tmp_path, f"id,{BASEBALL}\nr1,1\n,1\n"), catalog)

    report = run_import(db_session, write_csv(tmp_path, f"id,{BASEBALL}\nr1,0\n,0\n"), catalog)

    assert (report.respondents_created, report.respondents_updated) == (1, 1)
    assert count(db_session, Fan) == 3  # r1 once, plus one new id-less respondent per import
    assert answers_by_respondent(db_session)["import:r1"] == {BASEBALL: 0.0}


def test_the_same_id_twice_in_a_file_keeps_the_later_row(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    report = run_import(db_session, write_csv(tmp_path, f"id,{BASEBALL}\nr1,1\nr1,0\n"), catalog)

    assert (report.respondents_created, report.answers_stored) == (1, 1)
    assert answers_by_respondent(db_session)["import:r1"] == {BASEBALL: 0.0}


def test_a_file_without_a_header_row_is_refused(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    report = run_import(db_session, write_csv(tmp_path, "1,0,1\n0,1,1\n"), catalog)

    assert len(report.errors) == 1
    assert "1行目に見出し" in report.errors[0]
    assert count(db_session, Fan) == 0


def test_duplicated_columns_are_refused(db_session: Session, tmp_path: Path, catalog: Catalog) -> None:
    text = f"id,{BASEBALL},{SOCCER},{BASEBALL}\nr1,1,1,0\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog, skip_bad_rows=True)

    assert report.errors == [
        f"D列: 見出し「{BASEBALL}」がB列と重複しています。同じ項目の列は1つにしてください。"
    ]
    assert count(db_session, Answer) == 0


def test_an_unknown_item_id_stops_the_import_even_when_skipping_bad_rows(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    text = f"id,{BASEBALL},likes_curling\nr1,1,1\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog, skip_bad_rows=True)

    assert report.errors == ["C列: 「likes_curling」は質問カタログにない項目IDです。"]
    assert report.skipped_rows == []
    assert count(db_session, Fan) == 0


def test_a_question_text_as_header_is_explained(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    text = f"id,{catalog[BASEBALL].text_ja}\nr1,1\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert report.errors == [f"B列: 見出しが質問文です。見出しには項目ID「{BASEBALL}」を使ってください。"]


def test_a_non_numeric_count_is_reported_by_row_and_column(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    text = f"id,{BASEBALL},{LIVE_GAMES}\nr1,1,3\nr2,1,たくさん\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert report.errors == [
        f"3行目 C列（{LIVE_GAMES}）: 「たくさん」は使えません。数字でお答えください（例: 3回）。"
    ]
    assert count(db_session, Fan) == 0
    assert count(db_session, Answer) == 0


def test_out_of_range_values_are_reported(db_session: Session, tmp_path: Path, catalog: Catalog) -> None:
    text = f"id,{BASEBALL},{LIVE_GAMES}\nr1,2,3\nr2,1,400\nr3,1,-1\nr4,1,2.5\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert report.errors == [
        f"2行目 B列（{BASEBALL}）: 「2」は使えません。「はい」か「いいえ」でお答えください。",
        f"3行目 C列（{LIVE_GAMES}）: 「400」は使えません。0から365までの数字でお答えください。",
        f"4行目 C列（{LIVE_GAMES}）: 「-1」は使えません。0から365までの数字でお答えください。",
        f"5行目 C列（{LIVE_GAMES}）: 「2.5」は使えません。整数でお答えください。",
    ]
    assert count(db_session, Answer) == 0


def test_an_id_too_long_to_store_is_reported(db_session: Session, tmp_path: Path, catalog: Catalog) -> None:
    text = f"id,{BASEBALL}\n{'x' * 122},1\n{'y' * 121},1\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert report.errors == ["2行目 A列（id）: IDが長すぎます（121文字まで）。"]


def test_skipping_bad_rows_stores_the_good_rows_and_lists_every_skipped_one(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    text = f"id,{BASEBALL},{LIVE_GAMES}\nr1,1,3\nr2,maybe,3\n\nr4,1,999\nr5,0,\n"

    report = run_import(db_session, write_csv(tmp_path, text), catalog, skip_bad_rows=True)

    assert report.errors == []
    assert [(s.row, len(s.reasons)) for s in report.skipped_rows] == [(3, 1), (5, 1)]
    assert str(report.skipped_rows[1]).startswith(f"5行目: C列（{LIVE_GAMES}）: 「999」は使えません。")
    assert set(answers_by_respondent(db_session)) == {"import:r1", "import:r5"}


def test_excel_numbers_and_booleans_are_imported(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    path = write_xlsx(
        tmp_path,
        [["fan_id", BASEBALL, SOCCER, LIVE_GAMES], [101, True, "いいえ", 12], [102.0, 0, None, 3.0]],
    )

    report = run_import(db_session, path, catalog)

    assert report.errors == []
    stored = answers_by_respondent(db_session)
    assert stored["import:101"] == {BASEBALL: 1.0, SOCCER: 0.0, LIVE_GAMES: 12.0}
    assert stored["import:102"] == {BASEBALL: 0.0, LIVE_GAMES: 3.0}


def test_an_empty_column_without_header_is_ignored_but_values_under_no_header_are_not(
    db_session: Session, tmp_path: Path, catalog: Catalog
) -> None:
    ignored = run_import(db_session, write_csv(tmp_path, f"id,{BASEBALL},\nr1,1,\n"), catalog)
    refused = run_import(db_session, write_csv(tmp_path, f"id,{BASEBALL}\nr2,1,x\n"), catalog)

    assert ignored.errors == []
    assert refused.errors == ["C列: 見出しが空ですが値が入っています。項目IDを入れるか列を削除してください。"]


def test_a_header_only_file_imports_nothing(db_session: Session, tmp_path: Path, catalog: Catalog) -> None:
    report = run_import(db_session, write_csv(tmp_path, f"id,{BASEBALL}\n"), catalog)

    assert report == ImportReport()


def test_many_rows_are_stored_in_batches(db_session: Session, catalog: Catalog, tmp_path: Path) -> None:
    ids = list(catalog)[:20]
    lines = [",".join(["id", *ids])]
    lines += [",".join([f"r{n}", *(str((n + i) % 2) for i in range(len(ids)))]) for n in range(2500)]

    report = run_import(db_session, write_csv(tmp_path, "\n".join(lines) + "\n"), catalog)

    assert (report.respondents_created, report.answers_stored) == (2500, 2500 * 20)
    assert count(db_session, Answer) == 2500 * 20
    r7 = answers_by_respondent(db_session)["import:r7"]
    assert [r7[i] for i in ids[:3]] == [1.0, 0.0, 1.0]


def test_a_large_import_lets_other_writers_in_between_chunks_on_sqlite(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI commits per chunk on SQLite, so the single write lock is free between chunks.

    Between two chunks a second connection with no busy wait writes a row: with one long
    transaction (the behaviour before) it would get "database is locked".
    """
    from click.testing import CliRunner
    from sqlalchemy import event, text

    from bot.commands.import_answers import import_answers_command
    from data.database import make_engine
    from data.migrate import upgrade

    monkeypatch.setattr("data.answer_import.ROW_CHUNK", 10)
    url = f"sqlite:///{tmp_path / 'import.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE probe (written INTEGER)"))
    other = make_engine(url)
    rows = "\n".join(f"r{n},1,{n % 5}" for n in range(35))
    path = write_csv(tmp_path, f"id,likes_super_sento,live_games_per_year\n{rows}\n")
    writes: list[str] = []

    def write_between_chunks(session: Session) -> None:
        with other.connect() as connection:
            connection.execute(text("PRAGMA busy_timeout = 0"))
            connection.execute(text("INSERT INTO probe (written) VALUES (1)"))
            connection.commit()
        writes.append("ok")

    event.listen(Session, "after_commit", write_between_chunks)
    try:
        result = CliRunner().invoke(import_answers_command, [str(path)], env={"DATABASE_URL": url})
    finally:
        event.remove(Session, "after_commit", write_between_chunks)
    assert result.exit_code == 0, result.output
    # 35 respondents in chunks of 10: four chunk commits (and the command's own final commit).
    assert len(writes) >= 4
    with Session(engine) as session:
        assert count(session, Answer) == 70
        assert session.scalar(text("SELECT count(*) FROM probe")) == len(writes)
    engine.dispose()
    other.dispose()


def test_a_respondent_again_in_a_later_chunk_is_updated_not_inserted_twice(
    db_session: Session, tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data import answer_import

    # Two rows per chunk: r1 is created (and, on PostgreSQL, copied in) by the first chunk
    # and must be upserted by the third; r2 repeats inside one chunk.
    monkeypatch.setattr(answer_import, "ROW_CHUNK", 2)
    text = f"id,{BASEBALL}\nr1,1\nr3,1\nr2,1\nr2,0\nr1,0\n"
    report = run_import(db_session, write_csv(tmp_path, text), catalog)

    assert (report.respondents_created, report.answers_stored) == (3, 4)
    answers = answers_by_respondent(db_session)
    assert (answers["import:r1"], answers["import:r2"], answers["import:r3"]) == (
        {BASEBALL: 0.0},
        {BASEBALL: 0.0},
        {BASEBALL: 1.0},
    )
    assert count(db_session, Answer) == 3


def test_a_dry_run_reports_what_the_import_would_do_and_writes_nothing(
    db_session: Session, tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data import answer_import

    monkeypatch.setattr(answer_import, "ROW_CHUNK", 2)
    fan = line_fan(db_session)
    run_import(db_session, write_csv(tmp_path, f"id,{BASEBALL}\nold,1\n", name="first.csv"), catalog)
    db_session.commit()
    before = (count(db_session, Fan), count(db_session, Answer))
    text = f"id,{BASEBALL},{SOCCER}\n{fan.id},1,0\nold,0,\nnew,1,1\n,1,\nnew,0,\nlonely,,\n"
    frame = read_answer_file(write_csv(tmp_path, text))

    dry = import_answers(db_session, frame, catalog, skip_bad_rows=False, now=NOW, store=False)
    db_session.rollback()
    assert (count(db_session, Fan), count(db_session, Answer)) == before
    real = import_answers(db_session, frame, catalog, skip_bad_rows=False, now=NOW)
    db_session.commit()

    assert dry == real
    assert (real.respondents_created, real.respondents_updated, real.line_fans_updated) == (2, 2, 1)
    assert (real.answers_stored, real.rows_without_answers) == (7, 1)
