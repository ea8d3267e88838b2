"""The fake Messaging API: the endpoints fanbot uses, on their real paths and wire format.

Every request passes the same gate (`_gate`), in the platform's order as far as it is
observable: bearer token, JSON body and contract, retry-key header, rate limit, injected
faults. Sends then check and record under the state lock, so a reply token or a retry
key is accepted once even when the bot's sender runs in several threads.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, cast

from flask import Blueprint, Response, current_app, g, jsonify, make_response, request

from line_emulator.config import EmulatorConfig
from line_emulator.contract import Contract
from line_emulator.state import (
    AcceptedRequest,
    ApiRequestRecord,
    EmulatorState,
    InjectedFailure,
    LoadingAnimation,
    LogEntry,
    RichMenu,
    RichMenuProblem,
)

bp = Blueprint("line_api", __name__, url_prefix="/v2/bot")

USER_ID_RE = re.compile(r"^U[0-9a-f]{32}$")
MAX_MESSAGES = 5
MAX_MULTICAST_TO = 500
MAX_RICH_MENU_IMAGE_BYTES = 1024 * 1024

# Only these accept X-Line-Retry-Key; LINE answers 400 when another API carries it.
RETRY_KEY_PATHS = frozenset(
    {
        "/v2/bot/message/push",
        "/v2/bot/message/multicast",
        "/v2/bot/message/narrowcast",
        "/v2/bot/message/broadcast",
    }
)
PUSH_PATH = "/v2/bot/message/push"
MULTICAST_PATH = "/v2/bot/message/multicast"
BROADCAST_PATH = "/v2/bot/message/broadcast"
# LINE's monthly quota starts over at midnight Japan time on the first of the month.
JST_OFFSET_SECONDS = 9 * 60 * 60
# Message types that LINE returns a quoteToken for in sentMessages.
QUOTABLE_TYPES = frozenset({"text", "textV2", "sticker", "image", "video"})

AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
# LINE's answer (429) when a send would go past the month's message quota.
MONTHLY_LIMIT = "You have reached your monthly limit."
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
_STATUS_MESSAGES = {
    400: "Bad Request",
    429: RATE_LIMITED,
    500: "An error occurred in the backend server",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_RECORDED_HEADERS = ("Content-Type", "X-Line-Retry-Key", "User-Agent")
# An injected stall never holds a server thread longer than this.
STALL_LIMIT_SECONDS = 60.0


# -- plumbing ---------------------------------------------------------------------------


def _config() -> EmulatorConfig:
    return cast(EmulatorConfig, current_app.extensions["line_emulator_config"])


def _state() -> EmulatorState:
    return cast(EmulatorState, current_app.extensions["line_emulator"])


def _contract() -> Contract:
    return cast(Contract, current_app.extensions["line_emulator_contract"])


def _now() -> float:
    return _config().clock()


def quota_month(now: float) -> str:
    """The quota month ("YYYY-MM") of a clock time, in Japan time as LINE counts."""
    return time.strftime("%Y-%m", time.gmtime(now + JST_OFFSET_SECONDS))


def _rate_limit(config: EmulatorConfig, path: str) -> float | None:
    if path in (PUSH_PATH, BROADCAST_PATH):
        return config.push_rate_limit_per_second
    if path == MULTICAST_PATH:
        return config.multicast_rate_limit_per_second
    return None


def error_response(
    status: int, message: str, details: list[dict[str, str]] | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def _invalid_body(details: list[dict[str, str]]) -> Response:
    return error_response(400, f"The request body has {len(details)} error(s)", details)


def _invalid_property(name: str) -> Response:
    return error_response(400, f"The property, '{name}', in the request body is invalid (line: -, column: -)")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    # uuid.UUID also takes braces, URNs and undashed hex; LINE wants the dashed hex form.
    return re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value) is not None


@bp.before_request
def _gate() -> Response | None:
    g.request_id = str(uuid.uuid4())
    g.json_body = None
    g.after_accept_failure = None
    config, state, contract = _config(), _state(), _contract()

    if request.headers.get("Authorization", "") != f"Bearer {config.channel_access_token}":
        return error_response(401, AUTH_FAILED)

    raw = request.get_data(cache=True)
    expects_json = contract.expects_json(request.method, request.path)
    if expects_json and request.mimetype != "application/json":
        # The body is validated whatever the header says: a JSON API with another
        # Content-Type is itself a contract violation, not a way around the check.
        content_type = request.mimetype or "missing"
        state.add_violations([f"{request.method} {request.path}: Content-Type is {content_type}, not JSON"])
        return error_response(415, "Unsupported Media Type: the Content-Type must be application/json")
    if expects_json or (raw and request.mimetype == "application/json"):
        try:
            g.json_body = json.loads(raw) if raw else None
        except ValueError:
            return error_response(400, "The request body could not be parsed as JSON (line: -, column: -)")
        errors = contract.request_errors(request.method, request.path, g.json_body)
        if errors:
            state.add_violations(f"{request.method} {request.path}: {e}" for e in errors)
            return _invalid_body([{"message": e.message, "property": e.property} for e in errors])

    retry_key = request.headers.get("X-Line-Retry-Key")
    if retry_key is not None:
        if request.path not in RETRY_KEY_PATHS:
            return error_response(400, "The X-Line-Retry-Key header is not supported by this API")
        if not _is_uuid(retry_key):
            return error_response(400, "The value of the X-Line-Retry-Key header is invalid")

    rate = _rate_limit(config, request.path)
    if rate is not None and not state.take_rate_token(request.path, rate, _now()):
        return error_response(429, RATE_LIMITED)

    injected = state.pop_injected_failure(request.path)
    if injected is not None:
        if not injected.after_accept:
            return error_response(injected.status, _STATUS_MESSAGES.get(injected.status, "Error"))
        g.after_accept_failure = injected
    return None


@bp.after_request
def _finish(response: Response) -> Response:
    failure: InjectedFailure | None = g.get("after_accept_failure")
    if failure is not None and failure.stall is not None:
        failure.stall.wait(STALL_LIMIT_SECONDS)
    elif failure is not None and response.status_code < 300:
        response = error_response(failure.status, _STATUS_MESSAGES.get(failure.status, "Error"))
    request_id = g.get("request_id") or str(uuid.uuid4())
    response.headers["x-line-request-id"] = request_id
    _state().record_request(
        ApiRequestRecord(
            method=request.method,
            path=request.path,
            headers={h: request.headers[h] for h in _RECORDED_HEADERS if h in request.headers},
            json=g.get("json_body"),
            status=response.status_code,
            request_id=request_id,
        )
    )
    return response


def _json_object() -> dict[str, Any]:
    body = g.get("json_body")
    return body if isinstance(body, dict) else {}


def _ok(body: Any = None, status: int = 200) -> Response:
    response = jsonify({} if body is None else body)
    response.status_code = status
    return response


# -- sending ----------------------------------------------------------------------------


def _messages_problems(body: dict[str, Any]) -> list[dict[str, str]]:
    # The contract catches these too; checked here as well so the reply names LINE's own limit.
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return [{"message": "Size must be at least 1", "property": "messages"}]
    if len(messages) > MAX_MESSAGES:
        return [{"message": f"Size must be at most {MAX_MESSAGES}", "property": "messages"}]
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return [{"message": "must be a message object", "property": f"messages[{index}]"}]
        if message["type"] == "coupon":
            coupon = _state().get_coupon(str(message.get("couponId", "")))
            # A coupon message must name a coupon of this channel that is running and not over.
            if coupon is None or coupon["status"] != "RUNNING" or coupon["endTimestamp"] <= _now():
                return [{"message": "The coupon is not available", "property": f"messages[{index}].couponId"}]
    return []


def _deliver(
    state: EmulatorState,
    user_id: str,
    messages: list[dict[str, Any]],
    *,
    source: str,
    delivered: bool,
) -> list[dict[str, str]]:
    sent = []
    now = _now()
    for message in messages:
        message_id = state.next_message_id()
        state.log(
            user_id,
            LogEntry(
                direction="bot",
                message=message,
                source=source,
                time=now,
                request_id=g.request_id,
                message_id=message_id,
                delivered=delivered,
            ),
        )
        entry = {"id": message_id}
        if message.get("type") in QUOTABLE_TYPES:
            entry["quoteToken"] = f"q{message_id}"
        sent.append(entry)
    return sent


def _send_body() -> tuple[dict[str, Any], Response | None]:
    """The request's JSON object, and the 400 to answer when its messages break the limits."""
    body = _json_object()
    problems = _messages_problems(body)
    return body, (_invalid_body(problems) if problems else None)


def _accept_retry_key(state: EmulatorState, retry_key: str | None, sent: list[dict[str, str]]) -> None:
    if retry_key is not None:
        state.accept_retry_key(retry_key, AcceptedRequest(g.request_id, sent, request.path, _now()))


def _over_quota(state: EmulatorState, recipients: int) -> Response | None:
    """LINE's 429 when ``recipients`` more messages do not fit in the month's quota."""
    if state.consume_quota(recipients, quota_month(_now())):
        return None
    return error_response(429, MONTHLY_LIMIT)


def _already_accepted(state: EmulatorState, retry_key: str | None, *, with_sent: bool) -> Response | None:
    if retry_key is None:
        return None
    accepted = state.accepted_request(retry_key, _now(), _config().retry_key_ttl_seconds)
    if accepted is None:
        return None
    extra = {"sentMessages": accepted.sent_messages} if with_sent and accepted.sent_messages else {}
    response = error_response(409, RETRY_KEY_ACCEPTED, **extra)
    response.headers["x-line-accepted-request-id"] = accepted.request_id
    return response


@bp.post("/message/reply")
def reply() -> Response:
    body, invalid = _send_body()
    if invalid is not None:
        return invalid
    config, state = _config(), _state()
    with state.lock:
        token = str(body.get("replyToken", ""))
        user_id = state.use_reply_token(token, _now(), config.reply_token_ttl_seconds)
        if user_id is None:
            return error_response(400, "Invalid reply token")
        user = state.get_user(user_id)
        sent = _deliver(
            state, user_id, body["messages"], source="reply", delivered=user is not None and user.following
        )
    return _ok({"sentMessages": sent})


@bp.post("/message/push")
def push() -> Response:
    body, invalid = _send_body()
    if invalid is not None:
        return invalid
    to = body.get("to")
    if not isinstance(to, str) or not USER_ID_RE.fullmatch(to):
        return _invalid_property("to")
    state = _state()
    retry_key = request.headers.get("X-Line-Retry-Key")
    with state.lock:
        conflict = _already_accepted(state, retry_key, with_sent=True)
        if conflict is not None:
            return conflict
        user = state.get_user(to)
        if user is None:
            # LINE's answer for a well-formed user ID that does not exist for this channel.
            return error_response(400, "Failed to send messages")
        over_quota = _over_quota(state, int(user.following))
        if over_quota is not None:
            return over_quota
        # A fan who blocked the account: accepted like on LINE, but never shown (nor counted).
        sent = _deliver(state, to, body["messages"], source="push", delivered=user.following)
        _accept_retry_key(state, retry_key, sent)
    return _ok({"sentMessages": sent})


@bp.post("/message/multicast")
def multicast() -> Response:
    body, invalid = _send_body()
    if invalid is not None:
        return invalid
    to = body.get("to")
    if not isinstance(to, list) or not to:
        return _invalid_body([{"message": "Size must be at least 1", "property": "to"}])
    if len(to) > MAX_MULTICAST_TO:
        return _invalid_body([{"message": f"Size must be at most {MAX_MULTICAST_TO}", "property": "to"}])
    for index, user_id in enumerate(to):
        if not isinstance(user_id, str) or not USER_ID_RE.fullmatch(user_id):
            return _invalid_property(f"to[{index}]")
    state = _state()
    retry_key = request.headers.get("X-Line-Retry-Key")
    with state.lock:
        conflict = _already_accepted(state, retry_key, with_sent=False)
        if conflict is not None:
            return conflict
        recipients = [user for user in map(state.get_user, dict.fromkeys(to)) if user is not None]
        # The quota counts one message per recipient the message reaches.
        over_quota = _over_quota(state, sum(user.following for user in recipients))
        if over_quota is not None:
            return over_quota
        for user in recipients:
            _deliver(state, user.user_id, body["messages"], source="multicast", delivered=user.following)
        _accept_retry_key(state, retry_key, [])
    return _ok()


@bp.post("/message/broadcast")
def broadcast() -> Response:
    body, invalid = _send_body()
    if invalid is not None:
        return invalid
    state = _state()
    retry_key = request.headers.get("X-Line-Retry-Key")
    with state.lock:
        conflict = _already_accepted(state, retry_key, with_sent=False)
        if conflict is not None:
            return conflict
        followers = [u for u in state.list_users() if u.following]
        over_quota = _over_quota(state, len(followers))
        if over_quota is not None:
            return over_quota
        for user in followers:
            _deliver(state, user.user_id, body["messages"], source="broadcast", delivered=True)
        _accept_retry_key(state, retry_key, [])
    return _ok()


@bp.post("/message/validate/<kind>")
def validate_messages(kind: str) -> Response:
    if kind not in {"reply", "push", "multicast", "narrowcast", "broadcast"}:
        return error_response(404, "Not found")
    problems = _messages_problems(_json_object())
    return _invalid_body(problems) if problems else _ok()


@bp.get("/message/quota")
def quota() -> Response:
    limit = _state().message_quota
    return _ok({"type": "none"} if limit is None else {"type": "limited", "value": limit})


@bp.get("/message/quota/consumption")
def consumption() -> Response:
    return _ok({"totalUsage": _state().usage_in(quota_month(_now()))})


@bp.post("/chat/loading/start")
def loading_start() -> Response:
    body = _json_object()
    chat_id = body.get("chatId")
    seconds = body.get("loadingSeconds", 20)
    user = _state().get_user(chat_id) if isinstance(chat_id, str) else None
    if user is None or not user.following:
        return error_response(400, "Invalid chatId")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 5 <= seconds <= 60 or seconds % 5:
        return _invalid_body(
            [{"message": "must be a multiple of 5 between 5 and 60", "property": "loadingSeconds"}]
        )
    _state().record_loading(LoadingAnimation(chat_id=user.user_id, loading_seconds=seconds, time=_now()))
    return _ok(status=202)


# -- users and bot ----------------------------------------------------------------------


@bp.get("/profile/<user_id>")
def profile(user_id: str) -> Response:
    user = _state().get_user(user_id)
    # LINE answers 404 for unknown fans and for fans who are not (or no longer) friends.
    if user is None or not user.following:
        return error_response(404, "Not found")
    body = {"displayName": user.display_name, "userId": user.user_id, "language": user.language}
    if user.picture_url:
        body["pictureUrl"] = user.picture_url
    return _ok(body)


@bp.get("/info")
def bot_info() -> Response:
    return _ok(
        {
            "userId": _config().bot_user_id,
            "basicId": "@fanbot-emulator",
            "displayName": "fanbot (emulator)",
            "chatMode": "bot",
            "markAsReadMode": "auto",
        }
    )


# -- rich menus -------------------------------------------------------------------------


def _rich_menu_problems(body: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    for name in ("size", "selected", "name", "chatBarText", "areas"):
        if name not in body:
            problems.append({"message": "must be specified", "property": name})
    size = body.get("size")
    if isinstance(size, dict):
        width, height = size.get("width"), size.get("height")
        if not isinstance(width, int) or not 800 <= width <= 2500:
            problems.append({"message": "must be between 800 and 2500", "property": "size.width"})
        if not isinstance(height, int) or height < 250:
            problems.append({"message": "must be at least 250", "property": "size.height"})
        elif isinstance(width, int) and width / height < 1.45:
            problems.append({"message": "width/height must be at least 1.45", "property": "size"})
    areas = body.get("areas")
    if isinstance(areas, list) and len(areas) > 20:
        problems.append({"message": "Size must be at most 20", "property": "areas"})
    chat_bar = body.get("chatBarText")
    if isinstance(chat_bar, str) and len(chat_bar) > 14:
        problems.append({"message": "must be at most 14 characters", "property": "chatBarText"})
    return problems


def _rich_menu_not_found() -> Response:
    return error_response(404, "Not found")


def _rich_menu_problem(problem: RichMenuProblem) -> Response:
    if problem == "not_found":
        return _rich_menu_not_found()
    if problem == "has_image":
        # LINE does not let an image be replaced; a new rich menu is needed.
        return error_response(400, "An image has already been uploaded to the richmenu")
    if problem == "unknown_user":
        return error_response(400, "The user ID is invalid")
    return error_response(400, "An image has not been uploaded to the richmenu")


@bp.post("/richmenu")
def create_rich_menu() -> Response:
    body = _json_object()
    problems = _rich_menu_problems(body)
    if problems:
        return _invalid_body(problems)
    state = _state()
    menu = RichMenu(rich_menu_id="richmenu-" + uuid.uuid4().hex, body=body)
    state.add_rich_menu(menu)
    return _ok({"richMenuId": menu.rich_menu_id})


@bp.post("/richmenu/validate")
def validate_rich_menu() -> Response:
    problems = _rich_menu_problems(_json_object())
    return _invalid_body(problems) if problems else _ok()


@bp.get("/richmenu/list")
def list_rich_menus() -> Response:
    return _ok({"richmenus": [m.as_response() for m in _state().list_rich_menus()]})


@bp.get("/richmenu/<rich_menu_id>")
def get_rich_menu(rich_menu_id: str) -> Response:
    menu = _state().get_rich_menu(rich_menu_id)
    return _ok(menu.as_response()) if menu else _rich_menu_not_found()


@bp.delete("/richmenu/<rich_menu_id>")
def delete_rich_menu(rich_menu_id: str) -> Response:
    return _ok() if _state().delete_rich_menu(rich_menu_id) else _rich_menu_not_found()


@bp.post("/richmenu/<rich_menu_id>/content")
def upload_rich_menu_image(rich_menu_id: str) -> Response:
    state = _state()
    if request.mimetype not in {"image/png", "image/jpeg"}:
        return error_response(415, "Unsupported Media Type")
    data = request.get_data()
    if not data:
        return error_response(400, "The request body is empty")
    if len(data) > MAX_RICH_MENU_IMAGE_BYTES:
        return error_response(413, "Payload Too Large")
    problem = state.set_rich_menu_image(rich_menu_id, data, request.mimetype)
    return _ok() if problem is None else _rich_menu_problem(problem)


@bp.get("/richmenu/<rich_menu_id>/content")
def download_rich_menu_image(rich_menu_id: str) -> Response:
    menu = _state().get_rich_menu(rich_menu_id)
    if menu is None or menu.image is None:
        return _rich_menu_not_found()
    response = make_response(menu.image)
    response.mimetype = menu.image_content_type or "application/octet-stream"
    return response


@bp.post("/user/all/richmenu/<rich_menu_id>")
def set_default_rich_menu(rich_menu_id: str) -> Response:
    problem = _state().set_default_rich_menu(rich_menu_id)
    return _ok() if problem is None else _rich_menu_problem(problem)


@bp.get("/user/all/richmenu")
def get_default_rich_menu() -> Response:
    menu_id = _state().default_rich_menu_id
    return _ok({"richMenuId": menu_id}) if menu_id else error_response(404, "no default richmenu")


@bp.delete("/user/all/richmenu")
def cancel_default_rich_menu() -> Response:
    _state().clear_default_rich_menu()
    return _ok()


@bp.post("/user/<user_id>/richmenu/<rich_menu_id>")
def link_rich_menu(user_id: str, rich_menu_id: str) -> Response:
    problem = _state().link_rich_menu(user_id, rich_menu_id)
    return _ok() if problem is None else _rich_menu_problem(problem)


@bp.get("/user/<user_id>/richmenu")
def get_user_rich_menu(user_id: str) -> Response:
    menu_id = _state().linked_rich_menu_id(user_id)
    return _ok({"richMenuId": menu_id}) if menu_id else error_response(404, "the user has no richmenu")


@bp.delete("/user/<user_id>/richmenu")
def unlink_rich_menu(user_id: str) -> Response:
    _state().unlink_rich_menu(user_id)
    return _ok()


# -- LINE coupons -----------------------------------------------------------------------


def _coupon_not_found() -> Response:
    return error_response(404, "Not found")


@bp.post("/coupon")
def create_coupon() -> Response:
    body = _json_object()
    start, end = body.get("startTimestamp"), body.get("endTimestamp")
    if isinstance(start, int) and isinstance(end, int) and end <= start:
        return _invalid_body([{"message": "must be after startTimestamp", "property": "endTimestamp"}])
    coupon = {
        **body,
        "couponId": uuid.uuid4().hex[:16],
        "createdTimestamp": int(_now()),
        "status": "RUNNING",
    }
    _state().add_coupon(coupon)
    return _ok({"couponId": coupon["couponId"]})


@bp.get("/coupon")
def list_coupons() -> Response:
    statuses = set(request.args.getlist("status"))
    try:
        limit = int(request.args.get("limit", "20"))
        start = int(request.args.get("start", "0"))
    except ValueError:
        return _invalid_property("limit")
    if not 1 <= limit <= 100 or start < 0:
        return _invalid_property("limit")
    coupons = [c for c in _state().list_coupons() if not statuses or c["status"] in statuses]
    coupons.sort(key=lambda c: c["createdTimestamp"])  # stable: creation order within a second
    page = coupons[start : start + limit]
    body: dict[str, Any] = {"items": [{"couponId": c["couponId"], "title": c["title"]} for c in page]}
    if start + limit < len(coupons):
        body["next"] = str(start + limit)
    return _ok(body)


@bp.get("/coupon/<coupon_id>")
def coupon_detail(coupon_id: str) -> Response:
    coupon = _state().get_coupon(coupon_id)
    return _ok(coupon) if coupon is not None else _coupon_not_found()


@bp.put("/coupon/<coupon_id>/close")
def close_coupon(coupon_id: str) -> Response:
    closed = _state().close_coupon(coupon_id)
    if closed is None:
        return _coupon_not_found()
    return _ok() if closed else error_response(410, "The coupon has already been closed")
