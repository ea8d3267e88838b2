"""Settings of one emulator instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# A fixed bot user ID keeps webhook `destination` stable across restarts of `make run`.
DEFAULT_BOT_USER_ID = "U" + "0f" * 16


@dataclass(frozen=True)
class EmulatorConfig:
    """What the emulator needs to play the LINE platform for one channel.

    ``webhook_url`` is the bot's ``/callback``; ``spec_dir`` is the line-openapi folder
    (None: `contract.default_spec_dir`, the vendored copy unless FANBOT_LINE_OPENAPI_DIR is set;
    validation cannot be switched off); ``push_rate_limit_per_second`` (push and broadcast)
    and ``multicast_rate_limit_per_second`` None mean unlimited (LINE: 2,000 and 200 requests
    per second); ``clock`` returns seconds since the epoch and drives reply-token expiry,
    retry-key expiry (LINE keeps an accepted key for 24 hours), the monthly quota's month,
    rate limiting and event timestamps, so tests can freeze it. ``message_quota`` is the
    month's allowance of messages (one per recipient; None: unlimited); a send that would
    go past it is refused with LINE's 429 "You have reached your monthly limit.".
    ``state_path`` is the emulator's own store (a JSON file) that keeps fans and chats
    across restarts; None (the default, and what tests use) keeps everything in memory only.
    """

    channel_secret: str
    channel_access_token: str
    webhook_url: str
    spec_dir: Path | None = None
    push_rate_limit_per_second: float | None = None
    multicast_rate_limit_per_second: float | None = None
    retry_key_ttl_seconds: float = 24 * 60 * 60
    message_quota: int | None = 1000
    reply_token_ttl_seconds: float = 60.0
    bot_user_id: str = DEFAULT_BOT_USER_ID
    clock: Callable[[], float] = field(default=time.time)
    state_path: Path | None = None
