"""The chat page and the small JSON API behind it (the emulator's own, not LINE's).

Routes live under ``/`` and ``/api/...`` of the emulator app, clear of LINE's ``/v2/``.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Response, current_app, jsonify, make_response, render_template, request, url_for

from line_emulator.delivery import DeliveryResult, WebhookSender
from line_emulator.state import EmulatorState, FanUser, LogEntry

bp = Blueprint("control", __name__)

MAX_TEXT_LENGTH = 5000


def _state() -> EmulatorState:
    return cast(EmulatorState, current_app.extensions["line_emulator"])


def _sender() -> WebhookSender:
    return cast(WebhookSender, current_app.extensions["line_emulator_sender"])


def _problem(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _user_json(user: FanUser) -> dict[str, Any]:
    return {"userId": user.user_id, "displayName": user.display_name, "following": user.following}


def _entry_json(entry: LogEntry) -> dict[str, Any]:
    # A coupon message carries only an id: the chat page shows the coupon as the phone would.
    coupon = (
        _state().get_coupon(str(entry.message.get("couponId")))
        if entry.message.get("type") == "coupon"
        else None
    )
    return {
        "coupon": coupon,
        "direction": entry.direction,
        "message": entry.message,
        "source": entry.source,
        "time": entry.time,
        "requestId": entry.request_id,
        "messageId": entry.message_id,
        "delivered": entry.delivered,
    }


def _delivery_json(result: DeliveryResult) -> Response:
    return jsonify({"webhook": {"status": result.status, "error": result.error}})


def _payload() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/")
def index() -> str:
    return render_template("chat.html", api_base=url_for("control.index"))


@bp.get("/api/users")
def list_users() -> Response:
    return jsonify({"users": [_user_json(u) for u in _state().list_users()]})


@bp.post("/api/users")
def create_user() -> Response:
    name = str(_payload().get("displayName", "")).strip()
    if not name or len(name) > 20:
        return _problem(400, "名前は1〜20文字で入力してください")
    user = _state().create_user(name)
    response = jsonify({"user": _user_json(user)})
    response.status_code = 201
    return response


@bp.get("/api/conversation/<user_id>")
def conversation(user_id: str) -> Response:
    state = _state()
    user = state.get_user(user_id)
    if user is None:
        return _problem(404, "そのファンはいません")
    last = state.last_webhook_for(user_id)
    menu = state.rich_menu_for(user_id) if user.following else None
    return jsonify(
        {
            "user": _user_json(user),
            "entries": [_entry_json(e) for e in state.conversation(user_id)],
            "webhook": None if last is None else {"status": last.status, "error": last.error},
            "richMenu": None
            if menu is None or menu.image is None
            else {
                **menu.as_response(),
                "imageUrl": url_for("control.rich_menu_image", rich_menu_id=menu.rich_menu_id),
            },
        }
    )


@bp.get("/api/richmenus/<rich_menu_id>/image")
def rich_menu_image(rich_menu_id: str) -> Response:
    menu = _state().get_rich_menu(rich_menu_id)
    if menu is None or menu.image is None:
        return _problem(404, "画像がありません")
    response = make_response(menu.image)
    response.mimetype = menu.image_content_type or "application/octet-stream"
    return response


def _known_user(user_id: str) -> FanUser | Response:
    user = _state().get_user(user_id)
    return user if user is not None else _problem(404, "そのファンはいません")


@bp.post("/api/users/<user_id>/follow")
def follow(user_id: str) -> Response:
    user = _known_user(user_id)
    if isinstance(user, Response):
        return user
    return _delivery_json(_sender().follow(user_id))


@bp.post("/api/users/<user_id>/unfollow")
def unfollow(user_id: str) -> Response:
    user = _known_user(user_id)
    if isinstance(user, Response):
        return user
    if not user.following:
        return _problem(409, "まだ友だちではありません")
    return _delivery_json(_sender().unfollow(user_id))


@bp.post("/api/users/<user_id>/text")
def send_text(user_id: str) -> Response:
    user = _known_user(user_id)
    if isinstance(user, Response):
        return user
    if not user.following:
        return _problem(409, "友だち追加してから話しかけてください")
    text = str(_payload().get("text", ""))
    if not text.strip() or len(text) > MAX_TEXT_LENGTH:
        return _problem(400, "メッセージを入力してください")
    return _delivery_json(_sender().text(user_id, text))


@bp.post("/api/users/<user_id>/postback")
def send_postback(user_id: str) -> Response:
    user = _known_user(user_id)
    if isinstance(user, Response):
        return user
    if not user.following:
        return _problem(409, "友だち追加してから操作してください")
    payload = _payload()
    data = payload.get("data")
    if not isinstance(data, str):
        return _problem(400, "data がありません")
    display_text = payload.get("displayText")
    params = payload.get("params")
    return _delivery_json(
        _sender().postback(
            user_id,
            data,
            display_text=display_text if isinstance(display_text, str) else None,
            params={str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else None,
        )
    )


@bp.post("/api/users/<user_id>/redeliver")
def redeliver(user_id: str) -> Response:
    user = _known_user(user_id)
    if isinstance(user, Response):
        return user
    result = _sender().redeliver_last(user_id)
    if result is None:
        return _problem(409, "再送するイベントがありません")
    return _delivery_json(result)
