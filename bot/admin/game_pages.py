"""Games in the admin pages: the schedule, importing it (CSV or iCalendar), editing a game, results
and postponements, and each game's planned and past post-game sends.

The rules are `data.games`' (an edited game is read as an imported row is) and the sends are
`coupons.sends.game_sends` (also behind ``fanbot sends show GAME``); these views turn forms into
calls and show the Japanese messages.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.admin.blueprint import bp
from bot.app_context import get_catalog, get_settings, now
from bot.db import get_session
from bot.postgame import postpone_game
from coupons.campaigns import STATE_LABELS as CAMPAIGN_STATE_LABELS
from coupons.sends import game_sends, send_totals
from data.games import (
    GAME_STATES,
    TOKYO,
    Game,
    GameError,
    edit_game,
    import_games,
    mark_final,
    parse_games_csv,
    parse_games_ics,
)

MAX_SCHEDULE_BYTES = 1024 * 1024
STATE_LABELS = {"scheduled": "予定", "live": "試合中", "final": "終了", "postponed": "延期"}
POST_GAME_LABELS = {"done": "送信処理済み", "missed": "見送り（終了から時間が経ちすぎ）"}
EDIT_FIELDS = ("opponent", "home_away", "venue", "tipoff", "state", "score")


@bp.get("/games")
def games() -> Any:
    db = get_session()
    rows = list(db.scalars(select(Game).order_by(Game.tipoff_at)))
    return render_template(
        "admin/games.html",
        games=rows,
        labels=STATE_LABELS,
        at=now(),
        totals=send_totals(db, [game.id for game in rows]),
    )


def _game_or_404(game_id: int) -> Game:
    game = get_session().get(Game, game_id)
    if game is None:
        abort(404, description="その試合は見つかりません。")
    return game


def _form_values(game: Game) -> dict[str, str]:
    if request.method == "POST":
        return {name: request.form.get(name, "") for name in EDIT_FIELDS}
    score = f"{game.our_score}-{game.their_score}" if game.our_score is not None else ""
    return {
        "opponent": game.opponent,
        "home_away": "home" if game.home else "away",
        "venue": game.venue,
        "tipoff": game.tipoff_at.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M"),
        "state": game.state,
        "score": score,
    }


@bp.route("/games/<id:game_id>", methods=["GET", "POST"])
def game_detail(game_id: int) -> Any:
    """One game: its edit form and its post-game sends (planned before it ends, what happened after)."""
    db = get_session()
    game = _game_or_404(game_id)
    error = None
    if request.method == "POST":
        try:
            form = request.form
            edit_game(
                db,
                str(game.id),
                opponent=form.get("opponent", ""),
                home_away=form.get("home_away", ""),
                venue=form.get("venue", ""),
                tipoff=form.get("tipoff", ""),
                state=form.get("state", ""),
                score=form.get("score", ""),
                now=now(),
            )
            db.commit()
        except GameError as problem:
            db.rollback()
            error = str(problem)
        else:
            flash(f"vs {game.opponent} の試合を保存しました。")
            return redirect(url_for("admin.game_detail", game_id=game.id))
    sends = game_sends(db, game, catalog=get_catalog(), consent_version=get_settings().consent_version)
    return (
        render_template(
            "admin/game.html",
            game=game,
            values=_form_values(game),
            states=GAME_STATES,
            labels=STATE_LABELS,
            post_game_labels=POST_GAME_LABELS,
            campaign_labels=CAMPAIGN_STATE_LABELS,
            sends=sends,
            at=now(),
            error=error,
        ),
        422 if error else 200,
    )


@bp.post("/games/import")
def games_import() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("取り込むファイルを選んでください。")
        return redirect(url_for("admin.games"))
    data = upload.read(MAX_SCHEDULE_BYTES + 1)
    if len(data) > MAX_SCHEDULE_BYTES:
        flash("ファイルが大きすぎます（1MBまで）。")
        return redirect(url_for("admin.games"))
    db = get_session()
    try:
        if upload.filename.lower().endswith(".ics"):
            rows = parse_games_ics(data)
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("cp932", errors="strict")
            rows = parse_games_csv(text)
        result = import_games(db, rows, now())
        db.commit()
    except (GameError, UnicodeDecodeError) as problem:
        db.rollback()
        reason = (
            str(problem)
            if isinstance(problem, GameError)
            else "文字コードが読めません（UTF-8 か Shift_JIS）。"
        )
        flash(f"{upload.filename}: {reason} 何も取り込んでいません。")
        return redirect(url_for("admin.games"))
    flash(f"{upload.filename}: {result.created} 試合を追加、{result.updated} 試合を更新しました。")
    return redirect(url_for("admin.games"))


@bp.post("/games/<id:game_id>/final")
def game_final(game_id: int) -> Any:
    db = get_session()
    try:
        game = mark_final(db, str(game_id), request.form.get("score", ""), now())
        db.commit()
    except GameError as problem:
        db.rollback()
        flash(str(problem))
    else:
        flash(f"試合終了として記録しました（vs {game.opponent} {game.our_score}-{game.their_score}）。")
    return redirect(url_for("admin.games"))


@bp.post("/games/<id:game_id>/postpone")
def game_postpone(game_id: int) -> Any:
    db = get_session()
    try:
        done = postpone_game(db, str(game_id), now())
        db.commit()
    except GameError as problem:
        db.rollback()
        flash(str(problem))
    else:
        flash(f"vs {done.game.opponent} の試合を延期にしました。{done.called_off}")
    return redirect(url_for("admin.games"))
