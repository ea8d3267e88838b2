"""Everything the emulator remembers, in memory, behind one lock.

Tests read it through ``app.extensions["line_emulator"]``: what was delivered to whom
(`messages_for`), every API request (`requests`), and every contract violation
(`violations`). The API views hold `lock` while they check and record a send, so a
retry key or a reply token can never be accepted twice by concurrent requests.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["bot", "user"]
# Why a rich-menu change was refused; the API turns each into LINE's answer.
RichMenuProblem = Literal["not_found", "has_image", "no_image", "unknown_user"]


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


@dataclass
class FanUser:
    user_id: str
    display_name: str
    following: bool = False
    # Remembers an earlier block so the next follow event says isUnblocked=true, like LINE.
    has_unfollowed: bool = False
    picture_url: str | None = None
    language: str = "ja"


@dataclass(frozen=True)
class LogEntry:
    """One line of a conversation.

    ``direction`` is "bot" for a message the bot sent (``source`` = reply/push/multicast/
    broadcast) and "user" for something the fan did (``source`` = the webhook event type).
    ``delivered`` is False for a message the platform accepted but the fan never saw
    (the fan had blocked the account).
    """

    direction: Direction
    message: dict[str, Any]
    source: str
    time: float
    request_id: str | None
    message_id: str | None = None
    delivered: bool = True


@dataclass
class ReplyToken:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass(frozen=True)
class AcceptedRequest:
    """What the platform answers again when the same retry key comes back (for 24 hours)."""

    request_id: str
    sent_messages: list[dict[str, str]]
    path: str
    # Clock time of acceptance; 0 for keys kept by an older store file (long expired).
    accepted_at: float = 0.0


@dataclass(frozen=True)
class ApiRequestRecord:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    status: int
    request_id: str
    # Wall-clock time the answer was ready (benchmarks measure event-to-reply latency with it).
    received_at: float = field(default_factory=time.time)


@dataclass
class RichMenu:
    rich_menu_id: str
    body: dict[str, Any]
    image: bytes | None = None
    image_content_type: str | None = None

    def as_response(self) -> dict[str, Any]:
        return {
            "richMenuId": self.rich_menu_id,
            "size": self.body.get("size", {}),
            "selected": bool(self.body.get("selected", False)),
            "name": self.body.get("name", ""),
            "chatBarText": self.body.get("chatBarText", ""),
            "areas": self.body.get("areas", []),
        }


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of a webhook body to the bot, as sent and as answered."""

    user_id: str | None
    body: bytes
    signature: str
    status: int | None
    error: str | None
    time: float


@dataclass(frozen=True)
class LoadingAnimation:
    chat_id: str
    loading_seconds: int
    time: float


@dataclass(frozen=True)
class InjectedFailure:
    status: int
    # True: the request is accepted and delivered, only the answer is lost (the case a
    # retry key exists for). False: the platform fails before accepting anything.
    after_accept: bool = False
    # Set: the request is handled as usual but its answer is held until the event is set,
    # so the client times out not knowing the request was accepted.
    stall: threading.Event | None = field(default=None, compare=False)


@dataclass
class _TokenBucket:
    rate: float
    tokens: float
    updated: float


@dataclass
class EmulatorState:
    """In-memory store of one emulator instance. All mutation goes through methods."""

    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    users: dict[str, FanUser] = field(default_factory=dict)
    conversations: dict[str, list[LogEntry]] = field(default_factory=dict)
    reply_tokens: dict[str, ReplyToken] = field(default_factory=dict)
    accepted_retry_keys: dict[str, AcceptedRequest] = field(default_factory=dict)
    rich_menus: dict[str, RichMenu] = field(default_factory=dict)
    # LINE coupons by id, each as the API's CouponResponse (with couponId, status, createdTimestamp).
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_rich_menu_id: str | None = None
    user_rich_menus: dict[str, str] = field(default_factory=dict)
    loading_animations: list[LoadingAnimation] = field(default_factory=list)
    # The month's allowance (messages, one per recipient; None: unlimited) and what was used
    # of it in ``usage_month`` ("YYYY-MM" in Japan time, when LINE's count starts over).
    message_quota: int | None = 1000
    total_usage: int = 0
    usage_month: str | None = None
    violations: list[str] = field(default_factory=list)
    requests: list[ApiRequestRecord] = field(default_factory=list)
    webhook_deliveries: list[WebhookDelivery] = field(default_factory=list)
    last_webhook_bodies: dict[str, bytes] = field(default_factory=dict)
    _injected: dict[str, deque[InjectedFailure]] = field(default_factory=dict, repr=False)
    _buckets: dict[str, _TokenBucket] = field(default_factory=dict, repr=False)
    _message_seq: int = field(default=0, repr=False)

    def restore_persistent(
        self,
        *,
        users: dict[str, FanUser],
        conversations: dict[str, list[LogEntry]],
        rich_menus: dict[str, RichMenu],
        default_rich_menu_id: str | None,
        user_rich_menus: dict[str, str],
        accepted_retry_keys: dict[str, AcceptedRequest],
        message_seq: int,
        total_usage: int,
        coupons: dict[str, dict[str, Any]] | None = None,
        usage_month: str | None = None,
    ) -> None:
        """Replace, in one step, what `line_emulator.store` keeps across restarts."""
        with self.lock:
            self.users = users
            self.conversations = conversations
            self.rich_menus = rich_menus
            self.default_rich_menu_id = default_rich_menu_id
            self.user_rich_menus = user_rich_menus
            self.accepted_retry_keys = accepted_retry_keys
            self._message_seq = message_seq
            self.total_usage = total_usage
            self.coupons = coupons or {}
            self.usage_month = usage_month

    # -- fans -------------------------------------------------------------------------

    def create_user(
        self, display_name: str, *, user_id: str | None = None, picture_url: str | None = None
    ) -> FanUser:
        with self.lock:
            user = FanUser(
                user_id=user_id or new_user_id(), display_name=display_name, picture_url=picture_url
            )
            self.users[user.user_id] = user
            self.conversations.setdefault(user.user_id, [])
            return user

    def get_user(self, user_id: str) -> FanUser | None:
        with self.lock:
            return self.users.get(user_id)

    def list_users(self) -> list[FanUser]:
        with self.lock:
            return list(self.users.values())

    def set_following(self, user_id: str, following: bool) -> FanUser:
        with self.lock:
            user = self.users[user_id]
            if not following and user.following:
                user.has_unfollowed = True
            user.following = following
            return user

    # -- conversation log -------------------------------------------------------------

    def next_message_id(self) -> str:
        # LINE message IDs are decimal strings of about 18 digits.
        with self.lock:
            self._message_seq += 1
            return str(500_000_000_000_000_000 + self._message_seq)

    def log(self, user_id: str, entry: LogEntry) -> None:
        with self.lock:
            self.conversations.setdefault(user_id, []).append(entry)

    def conversation(self, user_id: str) -> list[LogEntry]:
        with self.lock:
            return list(self.conversations.get(user_id, []))

    def messages_for(self, user_id: str) -> list[dict[str, Any]]:
        """Messages the bot delivered to this fan, in order, exactly as sent."""
        with self.lock:
            return [
                e.message for e in self.conversations.get(user_id, []) if e.direction == "bot" and e.delivered
            ]

    def undelivered_for(self, user_id: str) -> list[dict[str, Any]]:
        """Messages accepted for this fan while they had blocked the account."""
        with self.lock:
            return [
                e.message
                for e in self.conversations.get(user_id, [])
                if e.direction == "bot" and not e.delivered
            ]

    # -- reply tokens -----------------------------------------------------------------

    def issue_reply_token(self, user_id: str, now: float) -> str:
        with self.lock:
            token = secrets.token_hex(16)
            self.reply_tokens[token] = ReplyToken(user_id=user_id, issued_at=now)
            return token

    def use_reply_token(self, token: str, now: float, ttl_seconds: float) -> str | None:
        """Mark the token used and return its fan, or None when unknown, used or expired."""
        with self.lock:
            entry = self.reply_tokens.get(token)
            if entry is None or entry.used or now - entry.issued_at > ttl_seconds:
                return None
            entry.used = True
            return entry.user_id

    # -- retry keys -------------------------------------------------------------------

    def accepted_request(
        self, retry_key: str, now: float | None = None, ttl_seconds: float | None = None
    ) -> AcceptedRequest | None:
        """The request accepted with this key, unless the key has expired (then it is forgotten,
        and a request with the same key is a new request, as on LINE after 24 hours)."""
        with self.lock:
            key = retry_key.lower()
            accepted = self.accepted_retry_keys.get(key)
            if accepted is None or now is None or ttl_seconds is None:
                return accepted
            if now - accepted.accepted_at >= ttl_seconds:
                del self.accepted_retry_keys[key]
                return None
            return accepted

    def accept_retry_key(self, retry_key: str, accepted: AcceptedRequest) -> None:
        with self.lock:
            self.accepted_retry_keys[retry_key.lower()] = accepted

    # -- rate limit and fault injection -----------------------------------------------

    def take_rate_token(self, endpoint: str, rate_per_second: float, now: float) -> bool:
        """Token bucket per endpoint holding at most one second's worth of requests."""
        with self.lock:
            capacity = max(1.0, rate_per_second)
            bucket = self._buckets.get(endpoint)
            if bucket is None:
                bucket = self._buckets[endpoint] = _TokenBucket(rate_per_second, capacity, now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(capacity, bucket.tokens + elapsed * bucket.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True
            return False

    def inject_failures(self, path: str, statuses: Iterable[int], *, after_accept: bool = False) -> None:
        """Make the next calls to ``path`` (e.g. "/v2/bot/message/push") answer these statuses.

        Each status is used once, in order. By default nothing is delivered for it, as when
        the platform fails before accepting. With ``after_accept=True`` the request is
        delivered and its retry key accepted, and only the answer is replaced, as when the
        response is lost on the way back: a retry with the same key then gets 409.
        """
        with self.lock:
            queue = self._injected.setdefault(path, deque())
            queue.extend(InjectedFailure(status, after_accept) for status in statuses)

    def inject_stall(self, path: str) -> threading.Event:
        """Make the next call to ``path`` be accepted and delivered, then hold its answer until
        the returned event is set (at most a minute): the client times out without knowing
        that LINE accepted it, and a retry with the same key gets 409."""
        release = threading.Event()
        with self.lock:
            self._injected.setdefault(path, deque()).append(InjectedFailure(200, True, release))
        return release

    def pop_injected_failure(self, path: str) -> InjectedFailure | None:
        with self.lock:
            queue = self._injected.get(path)
            if not queue:
                return None
            return queue.popleft()

    # -- records ----------------------------------------------------------------------

    def record_request(self, record: ApiRequestRecord) -> None:
        with self.lock:
            self.requests.append(record)

    def add_violations(self, violations: Iterable[str]) -> None:
        with self.lock:
            self.violations.extend(violations)

    def set_message_quota(self, limit: int | None) -> None:
        with self.lock:
            self.message_quota = limit

    def usage_in(self, month: str) -> int:
        """Messages counted in ``month``; a new month starts from zero, as LINE's count does."""
        with self.lock:
            if self.usage_month != month:
                self.usage_month = month
                self.total_usage = 0
            return self.total_usage

    def consume_quota(self, count: int, month: str) -> bool:
        """Count ``count`` messages against the month's quota; False (nothing counted) when
        they do not all fit, since LINE refuses the whole request then."""
        with self.lock:
            used = self.usage_in(month)
            if self.message_quota is not None and count > 0 and used + count > self.message_quota:
                return False
            self.total_usage += count
            return True

    def record_loading(self, animation: LoadingAnimation) -> None:
        with self.lock:
            self.loading_animations.append(animation)

    def record_webhook(self, delivery: WebhookDelivery) -> None:
        with self.lock:
            self.webhook_deliveries.append(delivery)
            if delivery.user_id is not None:
                self.last_webhook_bodies[delivery.user_id] = delivery.body

    def last_webhook_for(self, user_id: str) -> WebhookDelivery | None:
        with self.lock:
            for delivery in reversed(self.webhook_deliveries):
                if delivery.user_id == user_id:
                    return delivery
            return None

    # -- rich menus -------------------------------------------------------------------

    # -- LINE coupons -------------------------------------------------------------------

    def add_coupon(self, coupon: dict[str, Any]) -> None:
        with self.lock:
            self.coupons[coupon["couponId"]] = coupon

    def get_coupon(self, coupon_id: str) -> dict[str, Any] | None:
        with self.lock:
            coupon = self.coupons.get(coupon_id)
            return dict(coupon) if coupon is not None else None

    def list_coupons(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(c) for c in self.coupons.values()]

    def close_coupon(self, coupon_id: str) -> bool | None:
        """Close a running coupon: True when closed now, False when it was already closed, None if unknown."""
        with self.lock:
            coupon = self.coupons.get(coupon_id)
            if coupon is None:
                return None
            if coupon["status"] == "CLOSED":
                return False
            coupon["status"] = "CLOSED"
            return True

    def add_rich_menu(self, menu: RichMenu) -> None:
        with self.lock:
            self.rich_menus[menu.rich_menu_id] = menu

    def list_rich_menus(self) -> list[RichMenu]:
        with self.lock:
            return list(self.rich_menus.values())

    def get_rich_menu(self, rich_menu_id: str) -> RichMenu | None:
        with self.lock:
            return self.rich_menus.get(rich_menu_id)

    def set_rich_menu_image(
        self, rich_menu_id: str, image: bytes, content_type: str
    ) -> RichMenuProblem | None:
        """Attach the menu's image once; LINE does not let an image be replaced."""
        with self.lock:
            menu = self.rich_menus.get(rich_menu_id)
            if menu is None:
                return "not_found"
            if menu.image is not None:
                return "has_image"
            menu.image, menu.image_content_type = image, content_type
            return None

    def set_default_rich_menu(self, rich_menu_id: str) -> RichMenuProblem | None:
        with self.lock:
            problem = self._linkable(rich_menu_id)
            if problem is None:
                self.default_rich_menu_id = rich_menu_id
            return problem

    def clear_default_rich_menu(self) -> None:
        with self.lock:
            self.default_rich_menu_id = None

    def link_rich_menu(self, user_id: str, rich_menu_id: str) -> RichMenuProblem | None:
        with self.lock:
            if rich_menu_id not in self.rich_menus:
                return "not_found"
            if user_id not in self.users:
                return "unknown_user"
            problem = self._linkable(rich_menu_id)
            if problem is None:
                self.user_rich_menus[user_id] = rich_menu_id
            return problem

    def linked_rich_menu_id(self, user_id: str) -> str | None:
        with self.lock:
            return self.user_rich_menus.get(user_id)

    def unlink_rich_menu(self, user_id: str) -> None:
        with self.lock:
            self.user_rich_menus.pop(user_id, None)

    def _linkable(self, rich_menu_id: str) -> RichMenuProblem | None:
        menu = self.rich_menus.get(rich_menu_id)
        if menu is None:
            return "not_found"
        return "no_image" if menu.image is None else None

    def rich_menu_for(self, user_id: str) -> RichMenu | None:
        """The menu this fan sees: a per-user link wins over the default, as on LINE."""
        with self.lock:
            menu_id = self.user_rich_menus.get(user_id) or self.default_rich_menu_id
            return self.rich_menus.get(menu_id) if menu_id else None

    def delete_rich_menu(self, rich_menu_id: str) -> bool:
        with self.lock:
            if self.rich_menus.pop(rich_menu_id, None) is None:
                return False
            if self.default_rich_menu_id == rich_menu_id:
                self.default_rich_menu_id = None
            for user_id in [u for u, m in self.user_rich_menus.items() if m == rich_menu_id]:
                del self.user_rich_menus[user_id]
            return True
