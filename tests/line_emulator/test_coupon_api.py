"""LINE's coupon endpoints in the emulator: create, list, detail, close, and the coupon message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from line_emulator import EmulatorState
from tests.line_emulator.test_api import AUTH, FrozenClock, clock, make_app  # noqa: F401  (fixture)

NOW = 1_700_000_000


@pytest.fixture
def app(clock: FrozenClock) -> Flask:  # noqa: F811
    return make_app(clock)


def coupon(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "acquisitionCondition": {"type": "normal"},
        "title": "試合の後はひとっ風呂",
        "description": "入館料から200円引き",
        "usageCondition": "お一人様1回",
        "startTimestamp": NOW - 60,
        "endTimestamp": NOW + 3600,
        "maxUseCountPerTicket": 1,
        "reward": {"type": "discount", "priceInfo": {"type": "fixed", "fixedAmount": 200}},
        "visibility": "UNLISTED",
        "timezone": "ASIA_TOKYO",
    }
    body.update(overrides)
    return body


def create(client: FlaskClient, **overrides: Any) -> str:
    response = client.post("/v2/bot/coupon", json=coupon(**overrides), headers=AUTH)
    assert response.status_code == 200, response.get_json()
    coupon_id: str = response.get_json()["couponId"]
    return coupon_id


def test_a_coupon_is_created_read_listed_and_closed(client: FlaskClient, state: EmulatorState) -> None:
    first = create(client)
    second = create(client, title="二枚目")
    detail = client.get(f"/v2/bot/coupon/{first}", headers=AUTH).get_json()
    assert detail["title"] == "試合の後はひとっ風呂" and detail["status"] == "RUNNING"
    assert detail["reward"]["priceInfo"]["fixedAmount"] == 200
    listed = client.get("/v2/bot/coupon?limit=1", headers=AUTH).get_json()
    assert [c["couponId"] for c in listed["items"]] == [first] and listed["next"]
    rest = client.get(f"/v2/bot/coupon?limit=1&start={listed['next']}", headers=AUTH).get_json()
    assert [c["couponId"] for c in rest["items"]] == [second] and "next" not in rest

    assert client.put(f"/v2/bot/coupon/{first}/close", headers=AUTH).status_code == 200
    assert client.put(f"/v2/bot/coupon/{first}/close", headers=AUTH).status_code == 410
    assert client.get(f"/v2/bot/coupon/{first}", headers=AUTH).get_json()["status"] == "CLOSED"
    running = client.get("/v2/bot/coupon?status=RUNNING", headers=AUTH).get_json()
    assert [c["couponId"] for c in running["items"]] == [second]
    assert client.get("/v2/bot/coupon/nope", headers=AUTH).status_code == 404
    assert client.put("/v2/bot/coupon/nope/close", headers=AUTH).status_code == 404
    assert state.violations == []


@pytest.mark.parametrize(
    ("body", "property_name"),
    [
        ({k: v for k, v in coupon().items() if k != "title"}, "title"),
        (coupon(maxUseCountPerTicket=2), "maxUseCountPerTicket"),
        (coupon(timezone="JST"), "timezone"),
        (coupon(endTimestamp=NOW - 120), "endTimestamp"),
    ],
)
def test_a_malformed_coupon_is_refused(
    client: FlaskClient, state: EmulatorState, body: dict[str, Any], property_name: str
) -> None:
    response = client.post("/v2/bot/coupon", json=body, headers=AUTH)
    assert response.status_code == 400
    assert property_name in str(response.get_json())
    assert state.list_coupons() == []


def test_a_coupon_message_must_name_a_running_coupon(client: FlaskClient, state: EmulatorState) -> None:
    fan = state.create_user("ファン").user_id
    state.set_following(fan, True)
    running = create(client)
    closed = create(client)
    client.put(f"/v2/bot/coupon/{closed}/close", headers=AUTH)
    ok = client.post(
        "/v2/bot/message/push",
        json={"to": fan, "messages": [{"type": "coupon", "couponId": running}]},
        headers=AUTH,
    )
    assert ok.status_code == 200
    for coupon_id in (closed, "unknown-coupon"):
        refused = client.post(
            "/v2/bot/message/push",
            json={"to": fan, "messages": [{"type": "coupon", "couponId": coupon_id}]},
            headers=AUTH,
        )
        assert refused.status_code == 400 and "couponId" in str(refused.get_json())
    assert state.messages_for(fan) == [{"type": "coupon", "couponId": running}]
    # The chat page gets the coupon's details with the message, to show it as LINE does.
    entry = client.get(f"/api/conversation/{fan}").get_json()["entries"][-1]
    assert entry["coupon"]["title"] == "試合の後はひとっ風呂"


def test_coupons_survive_a_restart_with_a_store(clock: FrozenClock, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "emulator.json"
    first = make_app(clock, state_path=store)
    coupon_id = create(first.test_client())
    again = make_app(clock, state_path=store)
    assert (
        again.test_client().get(f"/v2/bot/coupon/{coupon_id}", headers=AUTH).get_json()["status"] == "RUNNING"
    )
