"""``fanbot segments score ITEM``: the scoring run behind lookalike targeting."""

from __future__ import annotations

import click


@click.group()
def segments() -> None:
    """Fan segments: lookalike scores for partner offers."""


@segments.command("score")
@click.argument("item_id")
def score(item_id: str) -> None:
    """Score every fan for ITEM (a yes/no survey item) and store the scores with their reasons."""
    from bot.commands.session import load_database_settings, session_scope
    from bot.scoring import run_scoring
    from data.catalog import load_catalog
    from data.models import utcnow
    from segmentation.lookalike import LookalikeError

    settings = load_database_settings()
    try:
        with session_scope(settings.database_url) as session:
            run = run_scoring(session, load_catalog(), item_id, settings.consent_version, utcnow())
    except LookalikeError as error:
        raise click.ClickException(str(error)) from error
    auc = "n/a (too few answers to cross-validate)" if run.auc is None else f"{run.auc:.3f}"
    click.echo(
        f"{run.item_id}: scored {run.scored} fans ({run.unanswered} never answered it), "
        f"{run.predictors} predictor items, cross-validated AUC {auc}"
    )
