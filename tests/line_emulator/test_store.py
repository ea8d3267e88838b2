"""The emulator keeps its fans, chats and rich menus across restarts when given a store file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, request

from line_emulator import EmulatorConfig, EmulatorState, create_emulator_app
from line_emulator.server import EmulatorServer
from line_emulator.store import EmulatorStore

SECRET = "store-secret"
TOKEN = "store-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def bot_url() -> Iterator[str]:
    """A bot that acknowledges every webhook (and says nothing)."""
    bot = Flask("silent_bot")

    @bot.post("/callback")
    def callback() -> str:
        request.get_data()
        return "OK"

    with EmulatorServer(bot) as server:
        yield server.base_url + "/callback"


Factory = Callable[..., Flask]


@pytest.fixture
def make_emulator(bot_url: str) -> Iterator[Factory]:
    apps: list[Flask] = []

    def make(state_path: Path | None) -> Flask:
        app = create_emulator_app(
            EmulatorConfig(
                channel_secret=SECRET,
                channel_access_token=TOKEN,
                webhook_url=bot_url,
                state_path=state_path,
            )
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["line_emulator_sender"].close()


def state_of(app: Flask) -> EmulatorState:
    state: EmulatorState = app.extensions["line_emulator"]
    return state


def play_a_fan(app: Flask) -> str:
    """Create a fan, follow, say something, and have the bot push a reply and set a rich menu."""
    client = app.test_client()
    user_id = str(client.post("/api/users", json={"displayName": "山田 花子"}).json["user"]["userId"])  # type: ignore[index]
    assert client.post(f"/api/users/{user_id}/follow").status_code == 200
    assert client.post(f"/api/users/{user_id}/text", json={"text": "こんにちは"}).status_code == 200
    push = {"to": user_id, "messages": [{"type": "text", "text": "ようこそ！"}]}
    assert client.post("/v2/bot/message/push", json=push, headers=AUTH).status_code == 200
    menu = {
        "size": {"width": 2500, "height": 843},
        "selected": True,
        "name": "menu",
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                "action": {"type": "postback", "data": "menu", "label": "メニュー"},
            }
        ],
    }
    menu_id = client.post("/v2/bot/richmenu", json=menu, headers=AUTH).json["richMenuId"]  # type: ignore[index]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    image = client.post(
        f"/v2/bot/richmenu/{menu_id}/content", data=png, headers={**AUTH, "Content-Type": "image/png"}
    )
    assert image.status_code == 200
    assert client.post(f"/v2/bot/user/all/richmenu/{menu_id}", headers=AUTH).status_code == 200
    return user_id


def test_a_restarted_emulator_has_the_same_fans_chats_and_rich_menu(
    make_emulator: Factory, tmp_path: Path
) -> None:
    path = tmp_path / "var" / "emulator.json"
    first = make_emulator(path)
    user_id = play_a_fan(first)
    before = state_of(first)

    second = make_emulator(path)
    after = state_of(second)

    assert [(u.user_id, u.display_name, u.following) for u in after.list_users()] == [
        (user_id, "山田 花子", True)
    ]
    assert after.conversation(user_id) == before.conversation(user_id)
    assert after.messages_for(user_id) == [{"type": "text", "text": "ようこそ！"}]
    menu = after.rich_menu_for(user_id)
    assert menu is not None and menu.image == before.rich_menu_for(user_id).image  # type: ignore[union-attr]
    # The page shows the same chat, with the menu, after the restart.
    page = second.test_client().get(f"/api/conversation/{user_id}").json
    assert page is not None and page["richMenu"] is not None
    assert [e["message"].get("text") for e in page["entries"]][-2:] == ["こんにちは", "ようこそ！"]


def test_message_ids_keep_growing_after_a_restart(make_emulator: Factory, tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    first = make_emulator(path)
    user_id = play_a_fan(first)
    last_id = int(state_of(first).conversation(user_id)[-1].message_id or 0)

    second = make_emulator(path)
    push = {"to": user_id, "messages": [{"type": "text", "text": "また来てね"}]}
    response = second.test_client().post("/v2/bot/message/push", json=push, headers=AUTH)

    assert int(response.json["sentMessages"][0]["id"]) > last_id  # type: ignore[index]


def test_without_a_store_path_nothing_is_written_and_a_restart_starts_empty(
    make_emulator: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    play_a_fan(make_emulator(None))

    assert state_of(make_emulator(None)).list_users() == []
    assert list(tmp_path.rglob("*")) == []


def test_an_unreadable_store_is_moved_aside_and_the_emulator_starts_empty(
    make_emulator: Factory, tmp_path: Path
) -> None:
    path = tmp_path / "emulator.json"
    path.write_text("{not json", encoding="utf-8")

    app = make_emulator(path)

    assert state_of(app).list_users() == []
    assert (tmp_path / "emulator.json.broken").read_text(encoding="utf-8") == "{not json"
    play_a_fan(app)
    assert json.loads(path.read_text(encoding="utf-8"))["users"][0]["display_name"] == "山田 花子"


def test_a_store_of_another_version_is_not_half_loaded(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(json.dumps({"version": 99, "users": [{"user_id": "U1"}]}), encoding="utf-8")
    state = EmulatorState()

    assert EmulatorStore(path).load_into(state) is False
    assert state.list_users() == []


def test_reads_do_not_rewrite_the_store(make_emulator: Factory, tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    app = make_emulator(path)
    play_a_fan(app)
    written = path.stat().st_mtime_ns
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")  # same content, new mtime
    touched = path.stat().st_mtime_ns

    app.test_client().get("/api/users")

    assert path.stat().st_mtime_ns == touched and touched >= written


def test_fans_created_at_the_same_time_are_all_kept(make_emulator: Factory, tmp_path: Path) -> None:
    import threading

    path = tmp_path / "emulator.json"
    app = make_emulator(path)
    names = [f"ファン{n}" for n in range(16)]

    def create(name: str) -> None:
        assert app.test_client().post("/api/users", json={"displayName": name}).status_code == 201

    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    reloaded = make_emulator(path)
    assert sorted(u.display_name for u in state_of(reloaded).list_users()) == sorted(names)
