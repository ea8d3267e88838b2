"""``fanbot analyze FILE --out DIR``: a thin shell over :func:`segmentation.analyze_file`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click
import pandas as pd

from segmentation import analyze_file, analyze_frame
from segmentation.correlation import BANDS
from segmentation.report import display_r, lookalike_summary

_BAND_JA = {b.name: b.label_ja for b in BANDS}


def _database_frame() -> pd.DataFrame:
    from bot.commands.session import load_database_settings, session_scope
    from data.answer_frame import answers_frame
    from data.catalog import load_catalog

    settings = load_database_settings()
    with session_scope(settings.database_url) as session:
        return answers_frame(session, load_catalog(), settings.consent_version)


@click.command("analyze")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--target", default=None, help="lookalike scoring target item id (yes/no item)")
@click.option(
    "--from-database", is_flag=True, help="analyse the answers stored in DATABASE_URL instead of FILE"
)
@click.option(
    "--method",
    type=click.Choice(["pearson", "spearman"]),
    default="pearson",
    show_default=True,
    help="pearson (as the source survey) or spearman (rank-based, robust to extreme counts)",
)
@click.option("--no-progress", is_flag=True, help="do not show progress bars")
def analyze(
    file: Path | None,
    out_dir: Path,
    target: str | None,
    from_database: bool,
    method: Literal["pearson", "spearman"],
    no_progress: bool,
) -> None:
    """Correlate answers in FILE (or the database); write pairs.csv, heatmaps, report.html to DIR."""
    if (file is None) == (not from_database):
        raise click.UsageError("give either FILE or --from-database")
    try:
        if file is not None:
            result = analyze_file(file, out_dir, target=target, progress=not no_progress, method=method)
        else:
            result = analyze_frame(
                _database_frame(), out_dir, target=target, progress=not no_progress, method=method
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    from data.catalog import load_catalog

    labels = load_catalog().labels
    click.echo(
        f"回答者 {result.respondents:,} 人、項目 {result.items} 個、組み合わせ {len(result.pairs):,} 組"
    )
    click.echo(f"偶然とは考えにくい組み合わせ（q < 0.05）: {result.significant:,} 組")
    strongest = result.strongest(5)
    if len(strongest):
        click.echo("関係の強い組み合わせ:")
        columns = [strongest[c].tolist() for c in ("item_a", "item_b", "r", "n", "q", "band")]
        for a, b, r, n, q, band_name in zip(*columns, strict=True):
            click.echo(
                f"  {labels.get(a, a)} × {labels.get(b, b)}: r={display_r(r)}, "
                f"n={n:,}, {_BAND_JA[band_name]}, q={q:.2g}"
            )
    if result.evaluation is not None:
        click.echo(lookalike_summary(result.evaluation, labels))
    click.echo(f"出力: {', '.join(str(p) for p in result.files.values())}")
