"""Games in the admin pages: the schedule, importing it (CSV or iCalendar), results and postponements.

The rules are `data.games`' (postponing, which calls off a planned send, `bot.postgame`'s); these
views turn forms into calls and show their Japanese messages.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.admin.blueprint import bp
from bot.app_context import now
from bot.db import get_session
from bot.postgame import postpone_game
from data.games import Game, GameError, import_games, mark_final, parse_games_csv, parse_games_ics

MAX_SCHEDULE_BYTES = 1024 * 1024
STATE_LABELS = {"scheduled": "予定", "live": "試合中", "final": "終了", "postponed": "延期"}


@bp.get("/games")
def games() -> Any:
    rows = list(get_session().scalars(select(Game).order_by(Game.tipoff_at)))
    return render_template("admin/games.html", games=rows, labels=STATE_LABELS, at=now())


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
