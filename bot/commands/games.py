"""``fanbot games``: import the schedule (CSV or iCalendar), list it, mark a game final or postponed."""

from __future__ import annotations

from pathlib import Path

import click

from bot.commands.session import load_database_settings, session_scope

STATE_LABELS = {"scheduled": "予定", "live": "試合中", "final": "終了", "postponed": "延期"}


@click.group()
def games() -> None:
    """The team's games: schedule and results."""


@games.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def games_import(file: Path) -> None:
    """Import FILE: CSV (key,tipoff,opponent,home_away,venue; see README) or iCalendar .ics.

    Known games are updated by their key (CSV ``key``, else date and opponent; iCalendar ``UID``),
    never duplicated. A bad row stops the import with its line number and nothing is stored.
    """
    from data.games import GameError, import_games, parse_games_csv, parse_games_ics
    from data.models import utcnow

    raw = file.read_bytes()
    try:
        if file.suffix.lower() == ".ics" or raw.lstrip(b"\xef\xbb\xbf \r\n").startswith(b"BEGIN:VCALENDAR"):
            rows = parse_games_ics(raw)
        else:
            rows = parse_games_csv(_text(file.name, raw))
        with session_scope(load_database_settings().database_url) as session:
            result = import_games(session, rows, utcnow())
    except GameError as error:
        raise click.ClickException(f"{file.name}: {error} 何も取り込んでいません。") from error
    click.echo(f"{file.name}: {result.created} 試合を追加、{result.updated} 試合を更新しました。")


def _text(name: str, raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise click.ClickException(f"{name}: 文字コードが読めません（UTF-8 か Shift_JIS で保存してください）。")


@games.command("list")
def games_list() -> None:
    """Every game in tip-off order (Japan time)."""
    from sqlalchemy import select

    from data.games import Game

    with session_scope(load_database_settings().database_url) as session:
        listed = session.scalars(select(Game).order_by(Game.tipoff_at)).all()
        if not listed:
            click.echo("試合はまだ登録されていません（`fanbot games import FILE` で取り込めます）。")
        for game in listed:
            side = "ホーム" if game.home else "アウェイ"
            score = f" {game.our_score}-{game.their_score}" if game.our_score is not None else ""
            click.echo(
                f"{game.id}\t{game.key}\t{game.tipoff_tokyo:%Y-%m-%d %H:%M}\t{side}\tvs {game.opponent}\t"
                f"{game.venue}\t{STATE_LABELS.get(game.state, game.state)}{score}"
            )


@games.command("final")
@click.argument("game")
@click.option("--score", required=True, help="Our score first, e.g. 85-79.")
def games_final(game: str, score: str) -> None:
    """Mark GAME (id or key) over with its score."""
    from data.games import GameError, mark_final
    from data.models import utcnow

    try:
        with session_scope(load_database_settings().database_url) as session:
            marked = mark_final(session, game, score, utcnow())
            label = f"{marked.key} vs {marked.opponent} {marked.our_score}-{marked.their_score}"
    except GameError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"試合終了: {label}")


@games.command("postpone")
@click.argument("game")
def games_postpone(game: str) -> None:
    """Mark GAME (id or key) postponed; importing it again with a new date schedules it again.

    A post-game send already planned for it is called off: messages not sent yet are cancelled
    and their coupons voided.
    """
    from bot.postgame import postpone_game
    from data.games import GameError
    from data.models import utcnow

    try:
        with session_scope(load_database_settings().database_url) as session:
            done = postpone_game(session, game, utcnow())
    except GameError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"延期: {done.game.key}")
    if done.called_off:
        click.echo(done.called_off)


@games.command("send")
@click.argument("game")
def games_send(game: str) -> None:
    """Run GAME's post-game job now: issue its campaigns' coupons and queue one message per fan.

    The scheduler runs this when a game ends; the sender then delivers the queue.
    """
    from bot.commands.session import load_settings
    from bot.postgame import plan_post_game
    from data.catalog import load_catalog
    from data.games import GameError, find_game
    from data.models import utcnow

    settings = load_settings()
    try:
        with session_scope(settings.database_url) as session:
            found = find_game(session, game)
            if found.state != "final":
                raise GameError(
                    f"試合「{found.key}」はまだ終了していません（`fanbot games final` で記録してください）。"
                )
            plan = plan_post_game(session, settings, load_catalog(), found, utcnow())
    except GameError as error:
        raise click.ClickException(str(error)) from error
    for outcome in plan.campaigns:
        state = "dropped (quiet hours)" if outcome.dropped_quiet_hours else f"issued {outcome.issued}"
        click.echo(
            f"campaign {outcome.campaign_id} {outcome.title}: eligible {outcome.eligible}, "
            f"holdout {outcome.holdout}, {state}, at per-fan limit {outcome.at_limit}, "
            f"over cap {outcome.over_cap}"
        )
    when = plan.send_at.isoformat() if plan.send_at else "-"
    click.echo(f"queued {plan.messages} messages (from {when})")
