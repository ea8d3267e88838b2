"""The fan pages for marketers: LINE display names, search, and delivery from the one consent rule."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data.models import Fan
from tests.conversation.conftest import last, tap
from tests.line_driver import LineDriver, postback_data


def consented(line: LineDriver, name: str) -> str:
    user = line.new_fan(name)
    replies = line.follow(user)
    line.postback(user, postback_data(replies[-1], "同意する"))
    return user


def fan_of(session: Session, user: str) -> Fan:
    return session.scalars(select(Fan).where(Fan.line_user_id == user)).one()


def delivery_cells(html: str) -> dict[str, str]:
    """Display name -> the 配信 cell, from the fan list; fans without a name are joined under 「—」."""
    cells: dict[str, str] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        name = re.search(r"<td>(?:<a [^>]*>)?([^<]+)(?:</a>)?</td>\s*<td>(?:LINE|インポート|デモ)", row)
        delivery = re.search(r'<td class="delivery-[a-z_]+">([^<]+)</td>', row)
        if name and delivery:
            key = name.group(1)
            cells[key] = f"{cells[key]},{delivery.group(1)}" if key in cells else delivery.group(1)
    return cells


def test_the_fan_list_and_page_show_the_line_display_name(
    admin_client: FlaskClient, line: LineDriver, session: Session
) -> None:
    user = consented(line, "山田 花子")
    fan = fan_of(session, user)
    listing = admin_client.get("/admin/fans").get_data(as_text=True)
    assert "山田 花子" in listing
    detail = admin_client.get(f"/admin/fans/{fan.id}").get_data(as_text=True)
    assert "<h1>山田 花子 <small>ファン" in detail


def test_marketers_find_a_fan_by_part_of_the_name_or_the_id(
    admin_client: FlaskClient, line: LineDriver, session: Session
) -> None:
    consented(line, "山田 花子")
    consented(line, "佐藤 一郎")
    sato = fan_of(session, line.state.list_users()[1].user_id)
    found = admin_client.get("/admin/fans", query_string={"q": "山田"}).get_data(as_text=True)
    assert "山田 花子" in found and "佐藤 一郎" not in found and "1人" in found
    by_id = admin_client.get("/admin/fans", query_string={"q": str(sato.id)}).get_data(as_text=True)
    assert "佐藤 一郎" in by_id and "山田 花子" not in by_id
    nobody = admin_client.get("/admin/fans", query_string={"q": "100%_"}).get_data(as_text=True)
    assert "「100%_」に当てはまるファンはいません。" in nobody


def test_a_search_longer_than_the_limit_is_a_clear_error(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/fans", query_string={"q": "あ" * 101})
    assert response.status_code == 400
    assert "検索語は100文字まで" in response.get_data(as_text=True)


def test_a_deleted_fan_cannot_be_found_by_their_old_name(admin_client: FlaskClient, line: LineDriver) -> None:
    user = consented(line, "消える 太郎")
    tap(line, user, last(line.text(user, "データ削除")), "はい、削除する")
    found = admin_client.get("/admin/fans", query_string={"q": "消える"}).get_data(as_text=True)
    assert "消える 太郎" not in found and "当てはまるファンはいません" in found


def test_the_delivery_column_follows_the_consent_rule(
    admin_client: FlaskClient, line: LineDriver, session: Session
) -> None:
    consented(line, "届く さん")
    stopped = consented(line, "停止 さん")
    line.text(stopped, "配信停止")
    blocked = consented(line, "ブロック さん")
    line.unfollow(blocked)
    never = line.new_fan("未同意 さん")
    line.follow(never)
    gone = consented(line, "削除 さん")
    tap(line, gone, last(line.text(gone, "データ削除")), "はい、削除する")
    old = consented(line, "旧同意 さん")
    session.execute(update(Fan).where(Fan.line_user_id == old).values(consent_version="2020-01"))
    session.commit()

    cells = delivery_cells(admin_client.get("/admin/fans").get_data(as_text=True))

    assert cells["届く さん"] == "受け取る"
    assert cells["停止 さん"] == "停止中"
    assert cells["ブロック さん"] == "ブロック中"
    assert cells["旧同意 さん"] == "同意なし"  # agreed to an older text only
    # Newest first: the deleted fan (no name, no delivery), then the one who never agreed.
    assert cells["—"] == "—,同意なし"
    assert "受け取る" not in [v for k, v in cells.items() if k not in ("届く さん",)]


@pytest.mark.parametrize(("tile", "filter_key"), [("line-fans", "line"), ("reachable", "reachable")])
def test_the_dashboard_counts_what_the_fan_list_filter_shows(
    admin_client: FlaskClient, line: LineDriver, tile: str, filter_key: str
) -> None:
    consented(line, "届く さん")
    stopped = consented(line, "停止 さん")
    line.text(stopped, "配信停止")
    line.follow(line.new_fan("未同意 さん"))
    gone = consented(line, "削除 さん")
    tap(line, gone, last(line.text(gone, "データ削除")), "はい、削除する")

    dashboard = admin_client.get("/admin/").get_data(as_text=True)
    listing = admin_client.get("/admin/fans", query_string={"source": filter_key}).get_data(as_text=True)

    count = re.search(rf'id="{tile}">([\d,]+)<', dashboard)
    listed = re.search(r"<h1>ファン <small>([\d,]+)人</small>", listing)
    assert count and listed
    assert count.group(1) == listed.group(1)
    assert int(count.group(1)) == {"line": 3, "reachable": 1}[filter_key]


def test_html_in_a_display_name_is_shown_as_text(
    admin_client: FlaskClient, line: LineDriver, session: Session
) -> None:
    user = consented(line, "<script>alert(1)</script>")
    fan = fan_of(session, user)
    for path in ("/admin/fans", f"/admin/fans/{fan.id}", "/admin/fans?q=script"):
        html = admin_client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
