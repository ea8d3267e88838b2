"""``fanbot survey stats``: per-item answer counts and yes share / mean, for the marketer."""

from __future__ import annotations

import csv
import io
import sys
import unicodedata
from collections.abc import Sequence

import click

from data.units import UNITS

# The anonymous counters kept after deletions, as the marketer reads them.
COUNTER_LABELS = {"deleted_fans": "データを削除したファン", "deleted_answers": "削除された回答"}
COUNTER_UNITS = {"deleted_fans": "人", "deleted_answers": "件"}
HEADERS = ("項目ID", "質問", "回答数", "はい率 / 平均")
CSV_COLUMNS = ("item_id", "text_ja", "answer_type", "answered", "yes_share", "mean")


@click.group("survey")
def survey() -> None:
    """Survey answers: statistics for the marketer."""


@survey.command("stats")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV to stdout instead of a table.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: only when stderr is a terminal).",
)
def stats(as_csv: bool, progress: bool | None) -> None:
    """Per item (catalog order): how many answered, and the yes share (yes/no) or the mean (count)."""
    from tqdm import tqdm

    from bot.commands.session import load_database_settings, session_scope
    from data.catalog import load_catalog
    from data.survey_stats import anonymous_counts, item_stats

    settings = load_database_settings()
    catalog = load_catalog()
    show_bar = progress if progress is not None else sys.stderr.isatty()
    with session_scope(settings.database_url) as session:
        with tqdm(
            total=len(catalog), desc="集計中", unit="項目", file=sys.stderr, disable=not show_bar
        ) as bar:
            rows = item_stats(session, catalog, progress=bar.update)
        counts = anonymous_counts(session)

    if as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(
                (
                    row.item_id,
                    row.text_ja,
                    row.answer_type,
                    row.answered,
                    "" if row.yes_share is None else f"{row.yes_share:.4f}",
                    "" if row.mean is None else f"{row.mean:.4f}",
                )
            )
        click.echo(buffer.getvalue(), nl=False)
    else:
        units = {item.id: UNITS[item.unit].per if item.unit in UNITS else "" for item in catalog.values()}
        table = [
            (
                row.item_id,
                row.text_ja,
                str(row.answered),
                _format_value(row.yes_share, row.mean, units[row.item_id]),
            )
            for row in rows
        ]
        for line in _align(HEADERS, table, right=(2, 3)):
            click.echo(line)
    if counts:
        footer = "削除後も残す匿名の集計: " + "、".join(
            f"{COUNTER_LABELS.get(key, key)} {count:,}{COUNTER_UNITS.get(key, '')}"
            for key, count in counts.items()
        )
        click.echo(footer, err=as_csv)


def _format_value(yes_share: float | None, mean: float | None, unit: str) -> str:
    if yes_share is not None:
        return f"{yes_share * 100:.1f}%"
    if mean is not None:
        return f"平均 {mean:.2f} {unit}".rstrip()
    return "-"


def display_width(text: str) -> int:
    """Terminal columns: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _align(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(display_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - display_width(cell))
            padded.append(pad + cell if i in right else cell + pad)
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return [line(headers), rule, *(line(r) for r in rows)]
