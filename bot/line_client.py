"""The one module that talks to the LINE Messaging API.

Builds ``linebot.v3`` requests, sets retry keys, and turns every failure into a
`LineApiError` that says whether trying again can help. Tests point it at the
emulator by ``LINE_API_BASE_URL``; nothing here knows which one it talks to.

Two ways out. `LineClient` uses the SDK's generated client for everything (replies, rich
menus, single pushes). `BulkLine` is the sender's fast path for pushes and multicasts: the
messages are built with the SDK's models and serialised once (`serialize_messages`) when they
are written to the outbox; `BulkLine` pastes that JSON into the request body and posts it over
one pooled asyncio HTTP session, several requests in flight. The SDK's client spends most of
its time re-validating and re-serialising models and reaches about 60% of LINE's 2,000
pushes per second from a thread pool; this path is limited only by the sender's rate limiter.
Both classify errors the same way (`classify_response`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    CouponCreateRequest,
    CouponResponse,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
    RichMenuResponse,
)
from linebot.v3.messaging import Message as LineMessage

from bot.settings import Settings

log = logging.getLogger(__name__)

LINE_API_HOST = "https://api.line.me"
LINE_DATA_API_HOST = "https://api-data.line.me"
PUSH_PATH = "/v2/bot/message/push"
MULTICAST_PATH = "/v2/bot/message/multicast"
# What LINE says (429) when a send would go past the month's message quota.
MONTHLY_LIMIT_TEXT = "monthly limit"


@dataclass(frozen=True)
class MessageQuota:
    limit: int | None  # None: the plan has no monthly limit
    used: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass
class LineApiError(Exception):
    """A failed Messaging API call, classified for the caller's retry decision."""

    status: int | None
    message: str
    retryable: bool
    retry_after_seconds: float | None = None
    accepted_request_id: str | None = None

    def __str__(self) -> str:
        return f"LINE API error {self.status}: {self.message}"

    @property
    def already_accepted(self) -> bool:
        """409 on a retry key: the platform accepted this exact request before."""
        return self.status == 409 and self.accepted_request_id is not None

    @property
    def quota_exhausted(self) -> bool:
        """429 "You have reached your monthly limit.": no retry helps until the quota grows."""
        return self.status == 429 and MONTHLY_LIMIT_TEXT in self.message.lower()

    @property
    def rate_limited(self) -> bool:
        """429 for going over the per-second rate limit (not the monthly quota)."""
        return self.status == 429 and not self.quota_exhausted


@dataclass(frozen=True)
class SendResult:
    request_id: str | None
    sent_message_ids: list[str]
    already_accepted: bool = False


class LineClient:
    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.line_timeout_seconds
        self._api = self._make(
            settings.line_api_base_url or LINE_API_HOST, settings.line_channel_access_token
        )
        self._data = self._make(
            settings.line_api_data_base_url or LINE_DATA_API_HOST, settings.line_channel_access_token
        )

    @staticmethod
    def _make(host: str, token: str) -> ApiClient:
        config = Configuration(host=host, access_token=token)
        # Our callers decide about retries (with retry keys); urllib3 must not resend on its own.
        config.retries = False
        return ApiClient(config)

    def close(self) -> None:
        self._api.close()
        self._data.close()

    @property
    def messaging(self) -> MessagingApi:
        return MessagingApi(self._api)

    @property
    def blob(self) -> MessagingApiBlob:
        return MessagingApiBlob(self._data)

    def reply(self, reply_token: str, messages: Sequence[LineMessage]) -> None:
        request = ReplyMessageRequest(
            replyToken=reply_token, messages=list(messages), notificationDisabled=False
        )
        self._call(self.messaging.reply_message_with_http_info, request)

    def push(self, to: str, messages: Sequence[LineMessage], retry_key: str) -> SendResult:
        request = PushMessageRequest(to=to, messages=list(messages), notificationDisabled=False)
        try:
            response = self._call(
                self.messaging.push_message_with_http_info, request, x_line_retry_key=retry_key
            )
        except LineApiError as error:
            if error.already_accepted:
                return SendResult(
                    request_id=error.accepted_request_id, sent_message_ids=[], already_accepted=True
                )
            raise
        data = response.data
        sent = [m.id for m in (data.sent_messages or [])] if data is not None else []
        headers = response.headers or {}
        return SendResult(request_id=headers.get("x-line-request-id"), sent_message_ids=sent)

    def multicast(self, to: Sequence[str], messages: Sequence[LineMessage], retry_key: str) -> SendResult:
        """One message to up to 500 fans; LINE answers without message ids."""
        request = MulticastRequest(to=list(to), messages=list(messages), notificationDisabled=False)
        try:
            response = self._call(
                self.messaging.multicast_with_http_info, request, x_line_retry_key=retry_key
            )
        except LineApiError as error:
            if error.already_accepted:
                return SendResult(
                    request_id=error.accepted_request_id, sent_message_ids=[], already_accepted=True
                )
            raise
        headers = response.headers or {}
        return SendResult(request_id=headers.get("x-line-request-id"), sent_message_ids=[])

    def display_name(self, user_id: str) -> str | None:
        """The fan's LINE display name, or None when LINE has no profile for them.

        LINE answers 404 for a user who is not (or no longer) a friend of the account;
        that is an answer, not a failure. Other errors raise `LineApiError`.
        """
        try:
            response = self._call(self.messaging.get_profile_with_http_info, user_id)
        except LineApiError as error:
            if error.status == 404:
                return None
            raise
        return str(response.data.display_name) if response.data is not None else None

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=self._timeout, **kwargs)
        except ApiException as exc:
            raise classify_api_exception(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Timeouts and refused connections: the request may or may not have
            # arrived, which is exactly what retry keys make safe to repeat.
            raise LineApiError(status=None, message=f"transport error: {exc}", retryable=True) from exc
        except (ValueError, TypeError, AttributeError) as exc:
            # A success status with a body the SDK cannot read (HTML from a proxy, a schema
            # violation such as an empty sentMessages): the request may have been accepted,
            # so the caller may retry with its retry key; the SDK's error must not escape.
            raise LineApiError(
                status=None, message=f"unreadable LINE API response: {type(exc).__name__}", retryable=True
            ) from exc

    # -- rich menus (the image goes to the data host, everything else to the API host) --

    def create_rich_menu(self, request: RichMenuRequest) -> str:
        """Create a rich menu; return its id. It shows nowhere until it has an image and is set."""
        response = self._call(self.messaging.create_rich_menu_with_http_info, request)
        return str(response.data.rich_menu_id)

    def upload_rich_menu_image(
        self, rich_menu_id: str, image: bytes, content_type: str = "image/png"
    ) -> None:
        """Attach the image (JPEG or PNG, at most 1 MB); LINE never lets it be replaced."""
        self._call(
            self.blob.set_rich_menu_image_with_http_info,
            rich_menu_id,
            image,
            _headers={"Content-Type": content_type},
        )

    def set_default_rich_menu(self, rich_menu_id: str) -> None:
        self._call(self.messaging.set_default_rich_menu_with_http_info, rich_menu_id)

    def list_rich_menus(self) -> list[RichMenuResponse]:
        response = self._call(self.messaging.get_rich_menu_list_with_http_info)
        return list(response.data.richmenus or []) if response.data is not None else []

    def delete_rich_menu(self, rich_menu_id: str) -> None:
        self._call(self.messaging.delete_rich_menu_with_http_info, rich_menu_id)

    # -- LINE's own coupons (an optional delivery; see bot/line_coupons.py) --

    def create_coupon(self, request: CouponCreateRequest) -> str:
        """Create a LINE coupon; return its id."""
        response = self._call(self.messaging.create_coupon_with_http_info, request)
        return str(response.data.coupon_id)

    def coupon_detail(self, coupon_id: str) -> CouponResponse:
        return self._call(self.messaging.get_coupon_detail_with_http_info, coupon_id).data

    def close_coupon(self, coupon_id: str) -> None:
        """Stop a LINE coupon: fans can no longer get or use it."""
        self._call(self.messaging.close_coupon_with_http_info, coupon_id)

    # -- account facts the admin pages show --

    def message_quota(self) -> MessageQuota:
        """This month's push/multicast allowance and what has been used of it."""
        quota = self._call(self.messaging.get_message_quota_with_http_info).data
        usage = self._call(self.messaging.get_message_quota_consumption_with_http_info).data
        limit = (
            int(quota.value)
            if quota is not None and quota.type == "limited" and quota.value is not None
            else None
        )
        return MessageQuota(limit=limit, used=int(usage.total_usage) if usage is not None else 0)

    def basic_id(self) -> str:
        """The account's basic ID (``@…``), which LINE URL schemes such as oaMessage name it by."""
        info = self._call(self.messaging.get_bot_info_with_http_info).data
        return str(info.basic_id)


def classify_api_exception(exc: ApiException) -> LineApiError:
    status = int(exc.status) if exc.status is not None else None
    return classify_response(status, dict(exc.headers or {}), exc.body, reason=str(exc.reason or ""))


def classify_response(
    status: int | None, headers: Mapping[str, Any], body: Any, *, reason: str = ""
) -> LineApiError:
    """A failed answer as a `LineApiError`: 429 (except the monthly quota) and 5xx are worth
    retrying with the same retry key; other 4xx are not."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    message = _error_message(body) or reason
    retry_after: float | None = None
    if raw := lowered.get("retry-after"):
        try:
            retry_after = float(raw)
        except ValueError:
            retry_after = None
    quota = status == 429 and MONTHLY_LIMIT_TEXT in message.lower()
    retryable = status is not None and ((status == 429 and not quota) or status >= 500)
    return LineApiError(
        status=status,
        message=message,
        retryable=retryable,
        retry_after_seconds=retry_after,
        accepted_request_id=lowered.get("x-line-accepted-request-id"),
    )


def serialize_messages(messages: Sequence[LineMessage]) -> str:
    """LINE message objects (the SDK's models) as the JSON array a push or multicast carries.

    Done once, when a message is written to the outbox; `BulkLine` sends the text as it is.
    """
    if not 1 <= len(messages) <= 5:
        raise ValueError(f"LINE sends 1 to 5 messages per request, got {len(messages)}")
    return json.dumps([m.to_dict() for m in messages], ensure_ascii=False, separators=(",", ":"))


class BulkLine:
    """Push and multicast with pre-serialised messages over one pooled asyncio HTTP session.

    Use inside a running event loop: ``async with BulkLine(settings) as line: ...``. Each call
    sends exactly one request (no retries of its own: the caller retries with the same retry
    key) and returns a `SendResult`, or raises `LineApiError` classified like `LineClient`'s.
    """

    def __init__(self, settings: Settings, *, connections: int = 32) -> None:
        self._base = (settings.line_api_base_url or LINE_API_HOST).rstrip("/")
        self._token = settings.line_channel_access_token
        self._timeout = settings.line_timeout_seconds
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BulkLine:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
            # The answers' bodies are read as text; cookies never matter to the Messaging API.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def push(self, to: str, messages_json: str, retry_key: str) -> SendResult:
        """Push ``messages_json`` (from `serialize_messages`) to one fan."""
        body = '{"to":' + json.dumps(to) + ',"messages":' + messages_json + "}"
        return await self._post(PUSH_PATH, body, retry_key)

    async def multicast(self, to: Sequence[str], messages_json: str, retry_key: str) -> SendResult:
        """Send ``messages_json`` to up to 500 fans in one request."""
        body = '{"to":' + json.dumps(list(to)) + ',"messages":' + messages_json + "}"
        return await self._post(MULTICAST_PATH, body, retry_key)

    async def _post(self, path: str, body: str, retry_key: str) -> SendResult:
        if self._session is None:
            raise RuntimeError("BulkLine is not open; use `async with BulkLine(...)`")
        try:
            async with self._session.post(
                self._base + path, data=body.encode("utf-8"), headers={"X-Line-Retry-Key": retry_key}
            ) as response:
                text = await response.text()
                status, headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # Timeouts and refused connections: the request may or may not have arrived,
            # which is exactly what retry keys make safe to repeat.
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                detail = f"timed out after {self._timeout:g} s"
            raise LineApiError(status=None, message=f"transport error: {detail}", retryable=True) from exc
        if 200 <= status < 300:
            return SendResult(request_id=headers.get("x-line-request-id"), sent_message_ids=[])
        error = classify_response(status, headers, text)
        if error.already_accepted:
            return SendResult(
                request_id=error.accepted_request_id, sent_message_ids=[], already_accepted=True
            )
        raise error


def _error_message(body: Any) -> str:
    if not body:
        return ""
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return str(body)[:500]
    if isinstance(parsed, dict):
        text = str(parsed.get("message", ""))
        details = parsed.get("details") or []
        if details:
            text += " " + "; ".join(
                f"{d.get('property', '')}: {d.get('message', '')}" for d in details if isinstance(d, dict)
            )
        return text
    return str(parsed)[:500]
