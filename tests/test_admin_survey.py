"""The survey page: coverage and yes share, items on/off and priority, answer-file import with preview."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.answers import record_answer
from data.models import Answer, Fan, StaffUser, SurveyItemSetting
from tests.conftest import FrozenClock, form_csrf
from tests.line_driver import LineDriver


def add_respondent(session: Session, clock: FrozenClock, answers: dict[str, float]) -> int:
    fan = Fan(line_user_id=None, source="import", created_at=clock())
    session.add(fan)
    session.flush()
    for item_id, value in answers.items():
        record_answer(session, fan.id, item_id, value, clock())
    return fan.id


def row_of(html: str, item_id: str) -> str:
    match = re.search(rf'<tr id="item-{item_id}".*?</tr>', html, re.S)
    assert match, item_id
    return match.group(0)


def test_catalog_shows_coverage_and_yes_share(
    admin_client: FlaskClient, session: Session, clock: FrozenClock
) -> None:
    add_respondent(session, clock, {"likes_super_sento": 1, "likes_sauna": 1})
    add_respondent(session, clock, {"likes_super_sento": 0})
    add_respondent(session, clock, {"likes_super_sento": 1})
    add_respondent(session, clock, {"live_games_per_year": 12})
    session.commit()
    html = admin_client.get("/admin/survey").get_data(as_text=True)
    assert "回答者 4人" in html
    sento = row_of(html, "likes_super_sento")
    assert '<td class="num">3</td>' in sento
    assert '<td class="num">75%</td>' in sento  # coverage: 3 of 4 respondents
    assert '<td class="num">67%</td>' in sento  # yes share: 2 of 3
    assert "12.0" in row_of(html, "live_games_per_year")


def save_settings(admin_client: FlaskClient, app: Flask, changes: dict[str, str], *, keep_all: bool = True):  # type: ignore[no-untyped-def]
    token = form_csrf(admin_client.get("/admin/survey").get_data(as_text=True))
    data = {"csrf": token}
    if keep_all:
        data.update({f"enabled-{item_id}": "1" for item_id in app.extensions["fanbot.catalog"]})
    data.update(changes)
    return admin_client.post("/admin/survey", data=data)


def test_disabling_and_prioritising_items_is_saved(
    admin_client: FlaskClient, app: Flask, session: Session
) -> None:
    response = save_settings(
        admin_client,
        app,
        {"enabled-likes_sauna": "", "priority-likes_super_sento": "１", "priority-goes_to_onsen": "2"},
    )
    assert response.status_code == 302
    rows = {row.item_id: (row.enabled, row.priority) for row in session.scalars(select(SurveyItemSetting))}
    assert rows == {"likes_sauna": (False, None), "likes_super_sento": (True, 1), "goes_to_onsen": (True, 2)}
    html = admin_client.get("/admin/survey").get_data(as_text=True)
    assert "checked" not in row_of(html, "likes_sauna")
    assert 'value="1"' in row_of(html, "likes_super_sento")


def test_bad_priorities_are_named_per_row_and_nothing_is_saved(
    admin_client: FlaskClient, app: Flask, session: Session
) -> None:
    response = save_settings(
        admin_client,
        app,
        {"priority-likes_sauna": "abc", "priority-likes_super_sento": "1000", "enabled-goes_to_onsen": ""},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "1〜999 の数字" in row_of(html, "likes_sauna")
    assert "1〜999 の数字" in row_of(html, "likes_super_sento")
    assert "何も保存していません" in html
    assert session.scalar(select(func.count()).select_from(SurveyItemSetting)) == 0


def test_disabled_items_are_not_asked_in_chat_and_priorities_go_first(
    admin_client: FlaskClient, app: Flask, line: LineDriver, session: Session
) -> None:
    from data.models import SurveyRound
    from data.survey_selection import DEFAULT_PRIORITY_ITEMS
    from tests.line_driver import postback_data

    changes = {f"enabled-{item}": "" for item in DEFAULT_PRIORITY_ITEMS}
    changes["priority-goes_to_stylish_cafes"] = "1"
    changes["priority-has_dog"] = "2"
    save_settings(admin_client, app, changes)
    user = line.new_fan("ファン")
    replies = line.follow(user)
    line.postback(user, postback_data(replies[-1], "同意する"))
    asked = session.scalars(select(SurveyRound.item_ids)).one().split(",")
    assert asked[:2] == ["goes_to_stylish_cafes", "has_dog"]
    assert not set(asked) & set(DEFAULT_PRIORITY_ITEMS)


def upload(admin_client: FlaskClient, name: str, content: bytes):  # type: ignore[no-untyped-def]
    token = form_csrf(admin_client.get("/admin/survey/import").get_data(as_text=True))
    return admin_client.post(
        "/admin/survey/import",
        data={"csrf": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def answers_stored(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(Answer)) or 0)


def test_preview_shows_rows_and_stores_nothing(admin_client: FlaskClient, session: Session) -> None:
    response = upload(admin_client, "answers.csv", b"likes_super_sento,live_games_per_year\n1,3\n0,\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "誤りは見つかりませんでした" in html
    assert "3件の回答が保存されます" in html
    assert answers_stored(session) == 0
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    confirm = admin_client.post(
        "/admin/survey/import/confirm", data={"csrf": form_csrf(html), "token": token}
    )
    assert confirm.status_code == 302
    assert answers_stored(session) == 3
    assert "3件の回答を取り込みました" in admin_client.get("/admin/survey").get_data(as_text=True)
    again = admin_client.post("/admin/survey/import/confirm", data={"csrf": form_csrf(html), "token": token})
    assert again.status_code == 302
    assert answers_stored(session) == 3  # the same upload is not imported twice


def test_preview_lists_errors_by_row_and_column(admin_client: FlaskClient, session: Session) -> None:
    response = upload(
        admin_client, "answers.csv", b"likes_super_sento,live_games_per_year\n1,3\nmaybe,-2\n1,5\n"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    table = re.search(r'<table class="data" id="import-errors">.*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    assert '<td class="num">3</td><td>A列（likes_super_sento）</td>' in table
    assert '<td class="num">3</td><td>B列（live_games_per_year）</td>' in table
    assert "誤りのある 1行を飛ばせば、残りの 4件" in html
    assert answers_stored(session) == 0
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    admin_client.post(
        "/admin/survey/import/confirm", data={"csrf": form_csrf(html), "token": token, "skip_bad_rows": "1"}
    )
    assert answers_stored(session) == 4


def test_unreadable_files_are_refused_in_japanese(admin_client: FlaskClient) -> None:
    response = upload(admin_client, "answers.txt", b"hello")
    assert response.status_code == 400
    assert "CSV（.csv）かExcel（.xlsx）" in response.get_data(as_text=True)
    response = upload(admin_client, "answers.csv", b"")
    assert response.status_code == 400


def test_uploaded_cells_are_escaped_in_the_preview(admin_client: FlaskClient) -> None:
    response = upload(admin_client, "answers.csv", b"likes_super_sento\n<img src=x onerror=alert(1)>\n")
    html = response.get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_another_session_cannot_confirm_someone_elses_upload(
    admin_client: FlaskClient, app: Flask, session: Session, marketer: StaffUser
) -> None:
    html = upload(admin_client, "answers.csv", b"likes_super_sento\n1\n").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    from tests.conftest import MARKETER_EMAIL, MARKETER_PASSWORD

    other = app.test_client()
    login = form_csrf(other.get("/admin/login").get_data(as_text=True))
    other.post("/admin/login", data={"csrf": login, "email": MARKETER_EMAIL, "password": MARKETER_PASSWORD})
    other_token = form_csrf(other.get("/admin/").get_data(as_text=True))
    other.post("/admin/survey/import/confirm", data={"csrf": other_token, "token": token})
    assert answers_stored(session) == 0


def test_a_typed_priority_is_escaped_when_shown_back(admin_client: FlaskClient, app: Flask) -> None:
    response = save_settings(admin_client, app, {"priority-likes_sauna": '"><img src=x onerror=alert(1)>'})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<img src=x" not in html
    assert "&#34;&gt;&lt;img src=x" in html or "&quot;&gt;&lt;img src=x" in html
