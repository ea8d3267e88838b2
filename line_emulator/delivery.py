"""What a fan does on the chat page, turned into signed webhooks POSTed to the bot.

Each action records the fan's side of the conversation, issues a reply token where LINE
would, builds the event, validates the body against webhook.yml, signs it and POSTs it.
The POST happens outside the state lock: the bot answers by calling the emulator's API
while this request is still open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import urllib3

from line_emulator import events
from line_emulator.config import EmulatorConfig
from line_emulator.contract import Contract
from line_emulator.state import EmulatorState, LogEntry, WebhookDelivery

WEBHOOK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class DeliveryResult:
    status: int | None
    error: str | None
    body: dict[str, Any]


class WebhookSender:
    """Sends webhooks for one emulator instance; one connection pool, closed by `close`."""

    def __init__(self, config: EmulatorConfig, state: EmulatorState, contract: Contract) -> None:
        self._config = config
        self._state = state
        self._contract = contract
        # No automatic retries: a failed delivery is shown to the developer as it is.
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=WEBHOOK_TIMEOUT_SECONDS), retries=False
        )

    def close(self) -> None:
        self._http.clear()

    def _now_ms(self) -> int:
        return int(self._config.clock() * 1000)

    def _log_user(self, user_id: str, message: dict[str, Any], source: str) -> None:
        self._state.log(
            user_id,
            LogEntry(
                direction="user",
                message=message,
                source=source,
                time=self._config.clock(),
                request_id=None,
            ),
        )

    # -- fan actions ------------------------------------------------------------------

    def follow(self, user_id: str) -> DeliveryResult:
        with self._state.lock:
            user = self._state.set_following(user_id, True)
            is_unblocked = user.has_unfollowed
            token = self._state.issue_reply_token(user_id, self._config.clock())
        self._log_user(user_id, {"type": "follow"}, "follow")
        event = events.follow_event(
            user_id, reply_token=token, is_unblocked=is_unblocked, timestamp_ms=self._now_ms()
        )
        return self.send(user_id, events.callback_body([event], self._config.bot_user_id))

    def unfollow(self, user_id: str) -> DeliveryResult:
        self._state.set_following(user_id, False)
        self._log_user(user_id, {"type": "unfollow"}, "unfollow")
        event = events.unfollow_event(user_id, timestamp_ms=self._now_ms())
        return self.send(user_id, events.callback_body([event], self._config.bot_user_id))

    def text(self, user_id: str, text: str) -> DeliveryResult:
        token = self._state.issue_reply_token(user_id, self._config.clock())
        event = events.text_message_event(user_id, text, reply_token=token, timestamp_ms=self._now_ms())
        self._log_user(user_id, event["message"], "message")
        return self.send(user_id, events.callback_body([event], self._config.bot_user_id))

    def postback(
        self,
        user_id: str,
        data: str,
        *,
        display_text: str | None = None,
        params: dict[str, str] | None = None,
    ) -> DeliveryResult:
        token = self._state.issue_reply_token(user_id, self._config.clock())
        event = events.postback_event(
            user_id, data, reply_token=token, params=params, timestamp_ms=self._now_ms()
        )
        # The fan sees displayText as their own bubble; the data itself stays invisible.
        shown: dict[str, Any] = {"type": "postback", "data": data}
        if display_text:
            shown["displayText"] = display_text
        self._log_user(user_id, shown, "postback")
        return self.send(user_id, events.callback_body([event], self._config.bot_user_id))

    def redeliver_last(self, user_id: str) -> DeliveryResult | None:
        """Send this fan's last webhook again, marked ``isRedelivery: true`` with the same
        ``webhookEventId``s, as LINE's webhook redelivery does. None if nothing was sent."""
        with self._state.lock:
            last = self._state.last_webhook_bodies.get(user_id)
        if last is None:
            return None
        return self.send(user_id, events.as_redelivery(json.loads(last)))

    # -- the wire ---------------------------------------------------------------------

    def send(self, user_id: str | None, body: dict[str, Any]) -> DeliveryResult:
        problems = self._contract.validate_webhook(body)
        self._state.add_violations(f"webhook: {p}" for p in problems)
        raw = events.serialize(body)
        signature = events.sign(raw, self._config.channel_secret)
        status: int | None = None
        error: str | None = None
        try:
            response = self._http.request(
                "POST",
                self._config.webhook_url,
                body=raw,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Line-Signature": signature,
                    "User-Agent": "LineBotWebhook/2.0",
                },
            )
            status = response.status
        except urllib3.exceptions.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._state.record_webhook(
            WebhookDelivery(
                user_id=user_id,
                body=raw,
                signature=signature,
                status=status,
                error=error,
                time=self._config.clock(),
            )
        )
        return DeliveryResult(status=status, error=error, body=body)
