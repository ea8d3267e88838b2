"""The games page: import a schedule, mark a game final with its score, postpone one."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.games import Game
from tests.conftest import FrozenClock, form_csrf

SCHEDULE = """key,tipoff,opponent,home_away,venue
g-1128,2026-11-28 15:05,仙台89ERS,home,みちのくアリーナ
g-1205,2026-12-05 15:05,<b>秋田</b>,away,CNAアリーナ
"""


def _upload(client: FlaskClient, name: str, content: bytes) -> str:
    token = form_csrf(client.get("/admin/games").get_data(as_text=True))
    response = client.post(
        "/admin/games/import",
        data={"csrf": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return response.get_data(as_text=True)


def test_a_schedule_is_imported_a_game_marked_final_and_one_postponed(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    page = _upload(admin_client, "season.csv", SCHEDULE.encode("cp932", errors="strict"))
    assert "2 試合を追加、0 試合を更新しました。" in page
    assert "&lt;b&gt;秋田&lt;/b&gt;" in page and "<b>秋田</b>" not in page
    today, later = session.scalars(select(Game).order_by(Game.tipoff_at)).all()
    # Only a game that has started can be marked final.
    assert f'/admin/games/{today.id}/final"' in page and f'/admin/games/{later.id}/final"' not in page
    token = form_csrf(page)
    bad = admin_client.post(
        f"/admin/games/{today.id}/final", data={"csrf": token, "score": "たくさん"}, follow_redirects=True
    )
    assert "スコア「たくさん」が読めません" in bad.get_data(as_text=True)
    done = admin_client.post(
        f"/admin/games/{today.id}/final", data={"csrf": token, "score": "85-79"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "試合終了として記録しました（vs 仙台89ERS 85-79）" in done
    assert re.search(r'data-key="g-1128">.*?終了.*?85-79', done, re.S)
    admin_client.post(f"/admin/games/{later.id}/postpone", data={"csrf": token})
    session.expire_all()
    assert [g.state for g in session.scalars(select(Game).order_by(Game.tipoff_at))] == ["final", "postponed"]


def test_a_bad_schedule_imports_nothing_and_says_where(admin_client: FlaskClient, session: Session) -> None:
    page = _upload(admin_client, "season.csv", (SCHEDULE + "g-x,そのうち,宇都宮,home,アリーナ\n").encode())
    assert "4行目: 開始日時「そのうち」が読めません" in page and "何も取り込んでいません" in page
    assert session.scalars(select(Game)).all() == []


def test_the_games_page_needs_a_marketer(client: FlaskClient) -> None:
    response = client.get("/admin/games")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_postponing_a_game_whose_send_was_planned_says_what_was_called_off(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    from sqlalchemy.orm import sessionmaker

    from bot.scheduler import GAME_LENGTH, post_game_sweep
    from data.catalog import load_catalog
    from data.outbox import OutboxMessage
    from tests.test_postgame import SETTINGS, TIPOFF, _campaign, _fan

    page = _upload(admin_client, "season.csv", SCHEDULE.encode())
    today = session.scalars(select(Game).where(Game.key == "g-1128")).one()
    _fan(session, 1, {"likes_super_sento": 1})
    _campaign(session, "試合後クーポン", game_id=today.id)
    session.commit()
    # Nobody marked it final: it is over by its usual length, and the scheduler planned its send.
    over = TIPOFF + GAME_LENGTH + timedelta(minutes=1)
    planned = post_game_sweep(sessionmaker(bind=session.get_bind()), SETTINGS, load_catalog(), over)
    assert planned.messages == 1

    done = admin_client.post(
        f"/admin/games/{today.id}/postpone", data={"csrf": form_csrf(page)}, follow_redirects=True
    ).get_data(as_text=True)

    assert "vs 仙台89ERS の試合を延期にしました。送信予定のメッセージ 1 件を取り消し、" in done
    assert "そのクーポン 1 枚を無効にしました。" in done
    session.expire_all()
    assert session.scalars(select(OutboxMessage.state)).all() == ["cancelled"]
