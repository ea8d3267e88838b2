"""Analysis in the browser: a background job with progress, heatmaps with hover, pairs table, downloads."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.analysis_runner import THREAD_EXTENSION
from bot.settings import Settings
from data.answers import record_answer
from data.models import AnalysisJob, Fan
from tests.conftest import FrozenClock, form_csrf


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Relative, like the default var/analysis: downloads must not resolve it against the package.
    monkeypatch.chdir(tmp_path)
    return settings.with_overrides(analysis_dir=Path("analysis-out"))


def plant_answers(session: Session, clock: FrozenClock, people: int = 60) -> None:
    """Live-game fans go to super sento (planted); pets have nothing to do with either."""
    rng = np.random.default_rng(7)
    for _ in range(people):
        fan = Fan(line_user_id=None, source="import", created_at=clock())
        session.add(fan)
        session.flush()
        live = int(rng.random() < 0.5)
        sento = live if rng.random() < 0.9 else 1 - live
        record_answer(session, fan.id, "watches_sports_live_yearly", live, clock())
        record_answer(session, fan.id, "likes_super_sento", sento, clock())
        record_answer(session, fan.id, "has_dog", int(rng.random() < 0.5), clock())
        record_answer(session, fan.id, "likes_sauna", int(rng.random() < 0.5), clock())
    session.commit()


def run_analysis(admin_client: FlaskClient, app: Flask) -> None:
    token = form_csrf(admin_client.get("/admin/analysis").get_data(as_text=True))
    response = admin_client.post("/admin/analysis/run", data={"csrf": token})
    assert response.status_code == 302
    app.extensions[THREAD_EXTENSION].join(timeout=120)


def finished_job(session: Session) -> AnalysisJob:
    session.expire_all()
    return session.scalars(select(AnalysisJob).order_by(AnalysisJob.id.desc())).first()  # type: ignore[return-value]


def test_analysis_runs_in_the_background_and_shows_its_result(
    admin_client: FlaskClient, app: Flask, session: Session, clock: FrozenClock
) -> None:
    plant_answers(session, clock)
    run_analysis(admin_client, app)
    job = finished_job(session)
    assert job.status == "done", job.error
    assert job.respondents == 60
    assert job.pairs == 6
    html = admin_client.get("/admin/analysis").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html
    assert "回答者 60人" in html
    assert "スーパー銭湯" in html  # the planted pair leads the strongest relations
    assert "Benjamini–Hochberg" in html


def test_progress_is_read_from_the_job_row_and_the_page_refreshes(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    session.add(
        AnalysisJob(
            status="running",
            active=1,
            stage="相関を計算しています",
            percent=30,
            requested_by="花子",
            created_at=clock(),
            heartbeat_at=clock(),
        )
    )
    session.commit()
    html = admin_client.get("/admin/analysis").get_data(as_text=True)
    assert 'http-equiv="refresh"' in html
    assert 'value="30"' in html
    assert "相関を計算しています（30%）" in html
    token = form_csrf(html)
    admin_client.post("/admin/analysis/run", data={"csrf": token})
    assert "すでに実行中" in admin_client.get("/admin/analysis").get_data(as_text=True)
    assert len(session.scalars(select(AnalysisJob)).all()) == 1


def test_a_job_whose_worker_died_is_marked_failed(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    session.add(
        AnalysisJob(
            status="running",
            active=1,
            stage="x",
            percent=30,
            requested_by="花子",
            created_at=clock() - timedelta(hours=1),
            heartbeat_at=clock() - timedelta(hours=1),
        )
    )
    session.commit()
    html = admin_client.get("/admin/analysis").get_data(as_text=True)
    assert "途中で止まりました" in html
    assert 'http-equiv="refresh"' not in html


def test_too_few_respondents_fail_with_a_japanese_reason(
    admin_client: FlaskClient, app: Flask, session: Session
) -> None:
    run_analysis(admin_client, app)
    job = finished_job(session)
    assert job.status == "failed"
    assert "3人以上" in (job.error or "")
    assert "3人以上" in admin_client.get("/admin/analysis").get_data(as_text=True)


def test_block_heatmap_hovers_show_items_r_n_q_and_mutes_chance_pairs(
    admin_client: FlaskClient, app: Flask, session: Session, clock: FrozenClock
) -> None:
    plant_answers(session, clock)
    run_analysis(admin_client, app)
    job = finished_job(session)
    html = admin_client.get(f"/admin/analysis/{job.id}/block?rows=@sports&cols=@other").get_data(as_text=True)
    cells = re.findall(r'<g class="cell( muted)?"><title>(.*?)</title>', html, re.S)
    planted = [title for muted, title in cells if "スーパー銭湯" in title]
    assert len(planted) == 1
    assert "r = +0." in planted[0] and "n = 60" in planted[0] and "q = " in planted[0]
    assert [muted for muted, title in cells if "スーパー銭湯" in title] == [""]  # significant: not muted
    assert any(muted for muted, title in cells if "犬" in title)  # chance-level pair: muted
    overview = admin_client.get("/admin/analysis").get_data(as_text=True)
    assert f"/admin/analysis/{job.id}/block?rows=" in overview


def test_pairs_table_filters_and_sorts(
    admin_client: FlaskClient, app: Flask, session: Session, clock: FrozenClock
) -> None:
    plant_answers(session, clock)
    run_analysis(admin_client, app)
    job = finished_job(session)
    base = f"/admin/analysis/{job.id}/pairs"
    everything = admin_client.get(base).get_data(as_text=True)
    assert everything.count("<tr class=") == 6
    significant = admin_client.get(f"{base}?q=0.05").get_data(as_text=True)
    assert significant.count("<tr class=") == 1
    assert "likes_super_sento" in significant
    by_item = admin_client.get(f"{base}?item=犬").get_data(as_text=True)
    assert by_item.count("<tr class=") == 3
    big_n = admin_client.get(f"{base}?n=61").get_data(as_text=True)
    assert big_n.count("<tr class=") == 0
    strong = admin_client.get(f"{base}?band=strong&band=moderate").get_data(as_text=True)
    assert strong.count("<tr class=") == 1
    ascending = admin_client.get(f"{base}?sort=q&order=asc").get_data(as_text=True)
    q_values = [float(v) for v in re.findall(r'<td class="num">([0-9.e+-]+)</td>\s*<td>', ascending)]
    assert q_values == sorted(q_values)
    bad = admin_client.get(f"{base}?q=abc")
    assert bad.status_code == 400
    assert "0〜1 の数" in bad.get_data(as_text=True)


def test_downloads_are_attachments_and_unknown_files_are_not_found(
    admin_client: FlaskClient, app: Flask, session: Session, clock: FrozenClock
) -> None:
    plant_answers(session, clock)
    run_analysis(admin_client, app)
    job = finished_job(session)
    csv = admin_client.get(f"/admin/analysis/{job.id}/files/pairs.csv")
    assert csv.status_code == 200
    assert "attachment" in csv.headers["Content-Disposition"]
    assert csv.get_data(as_text=True).startswith("item_a,item_b,r,n,p,q,band")
    csv.close()
    for name in ("heatmap.png", "heatmap_sports.png", "report.html"):
        response = admin_client.get(f"/admin/analysis/{job.id}/files/{name}")
        assert response.status_code == 200, name
        response.close()
    assert admin_client.get(f"/admin/analysis/{job.id}/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert admin_client.get(f"/admin/analysis/{job.id}/files/fanbot.db").status_code == 404
    assert admin_client.get("/admin/analysis/999/pairs").status_code == 404


def test_typed_filters_are_escaped_when_shown_back(
    admin_client: FlaskClient, app: Flask, session: Session, clock: FrozenClock
) -> None:
    plant_answers(session, clock)
    run_analysis(admin_client, app)
    job = finished_job(session)
    attack = '"><script>alert(1)</script>'
    html = admin_client.get(
        f"/admin/analysis/{job.id}/pairs", query_string={"item": attack, "n": attack}
    ).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
