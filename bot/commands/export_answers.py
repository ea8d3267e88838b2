"""``fanbot export-answers FILE``: the stored answers in the layout `fanbot analyze` and Excel read."""

from __future__ import annotations

from pathlib import Path

import click

from bot.commands.session import load_database_settings, session_scope


@click.command("export-answers")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_answers(file: Path) -> None:
    """Write one row per respondent (fan_id) and one column per item to FILE (.csv or .xlsx)."""
    from data.answer_frame import answers_frame
    from data.catalog import load_catalog

    if file.suffix.lower() not in (".csv", ".xlsx"):
        raise click.ClickException("出力ファイルは .csv か .xlsx にしてください")
    settings = load_database_settings()
    with session_scope(settings.database_url) as session:
        frame = answers_frame(session, load_catalog(), settings.consent_version)
    # Whole numbers stay whole in the file, blanks stay blank: what a spreadsheet user expects.
    out = frame.astype("Int64").reset_index()
    if file.suffix.lower() == ".csv":
        out.to_csv(file, index=False, encoding="utf-8-sig")
    else:
        out.to_excel(file, index=False, sheet_name="answers")
    click.echo(f"{len(out):,} 人の回答（{frame.shape[1]} 項目）を {file} に書き出しました")
