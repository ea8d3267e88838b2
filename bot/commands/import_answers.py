"""``fanbot import-answers FILE``: survey answers collected outside LINE (CSV or Excel)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click


@click.command("import-answers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-bad-rows",
    is_flag=True,
    help="Import the good rows and list the rows skipped for bad values (unknown columns still stop).",
)
def import_answers_command(file: Path, skip_bad_rows: bool) -> None:
    """Import FILE (.csv or .xlsx): one row per respondent, one column per item id, optional fan_id/id.

    Nothing is stored when the file has errors, unless --skip-bad-rows is given.
    """
    from bot.commands.session import load_database_settings, session_scope
    from data.answer_import import AnswerFileError, import_answers, read_answer_file
    from data.catalog import load_catalog

    settings = load_database_settings()
    catalog = load_catalog()
    try:
        frame = read_answer_file(file)
    except AnswerFileError as error:
        raise click.ClickException(str(error)) from error

    with session_scope(settings.database_url) as session:
        # On SQLite, commit per chunk: one long write transaction would stall every webhook.
        commit = session.commit if session.get_bind().dialect.name == "sqlite" else None
        report = import_answers(
            session, frame, catalog, skip_bad_rows=skip_bad_rows, now=datetime.now(UTC), after_chunk=commit
        )
        if report.errors:
            session.rollback()  # all or nothing: a file with errors stores nothing

    if report.errors:
        click.echo(f"{file.name}: 取り込めませんでした。何も保存していません。", err=True)
        for message in report.errors:
            click.echo(f"  {message}", err=True)
        if not skip_bad_rows and all("行目" in message for message in report.errors):
            click.echo("値の誤りがある行を飛ばして取り込むには --skip-bad-rows を付けてください。", err=True)
        raise click.exceptions.Exit(1)

    click.echo(f"{file.name}: 取り込みました。")
    click.echo(f"  読み込んだ行:       {report.rows_read}")
    click.echo(f"  新しい回答者:       {report.respondents_created}（匿名）")
    click.echo(
        f"  更新した回答者:     {report.respondents_updated}（うちLINEのファン {report.line_fans_updated}）"
    )
    click.echo(f"  保存した回答:       {report.answers_stored}")
    if report.rows_without_answers:
        click.echo(f"  回答のない行:       {report.rows_without_answers}（何も保存していません）")
    if report.skipped_rows:
        click.echo(f"  スキップした行:     {len(report.skipped_rows)}")
        for skipped in report.skipped_rows:
            click.echo(f"    {skipped}")
