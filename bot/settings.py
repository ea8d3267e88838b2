"""Typed settings read once from the environment (and a ``.env`` file when present)."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from data.database import default_database_url

DEMO_CHANNEL_SECRET = "fanbot-demo-channel-secret"
DEMO_ACCESS_TOKEN = "fanbot-demo-access-token"
DEV_SECRET_KEY = "dev-insecure-secret-key"
DEMO_TEAM_NAME = "みちのくスパークス"
DEMO_EMULATOR_STATE = "var/emulator.json"
OFF_WORDS = frozenset({"off", "none", "no", "0", "false"})
# The consent text in force; a new text gets a new version (see data/consent.py for what that means).
CONSENT_VERSION = "2026-11"


class SettingsError(ValueError):
    """A configuration variable has a bad value; the message names it."""


@dataclass(frozen=True)
class Settings:
    line_channel_secret: str
    line_channel_access_token: str
    database_url: str = field(default_factory=default_database_url)
    # None means the real LINE platform; the emulator is only ever enabled when this is set.
    line_api_base_url: str | None = None
    secret_key: str = DEV_SECRET_KEY
    port: int = 8000
    host: str = "127.0.0.1"
    consent_version: str = CONSENT_VERSION
    line_openapi_dir: Path | None = None
    line_timeout_seconds: float = 10.0
    testing: bool = False
    # The account's basic ID (``@…``) for LINE links such as the shops' check-in QR; asked of LINE when unset.
    line_basic_id: str | None = None
    # Where analyses started from the admin pages write their files (one folder per job).
    analysis_dir: Path = Path("var") / "analysis"
    # Where sign-in throttling counts attempts; memory is per process (see bot/limiter.py).
    ratelimit_storage_uri: str = "memory://"
    # The team's voice in chat: its name, the account's name, and the follow greeting.
    team_name: str = ""
    account_name_override: str | None = None
    greeting_override: str | None = None
    # The LINE emulator's own store (kept across restarts of `make run`); None: memory only.
    emulator_state_path: Path | None = None
    # Threads handling recorded webhook events (bot/inbox.py); a fan's events stay in order.
    inbox_workers: int = 4
    # Where fans' phones fetch images the bot links to (coupon QR codes): the app's public
    # address. Real LINE fetches images over HTTPS only; None means http://HOST:PORT (local use).
    public_base_url: str | None = None
    # The push sender (bot/sender.py): requests per second per sender process, just under LINE's
    # limits (push 2,000/s, multicast 200/s; several sender processes share them), and how many
    # requests it keeps in flight.
    sender_push_rate: float = 1900.0
    sender_multicast_rate: float = 190.0
    sender_connections: int = 32
    # How long a sender's claim on a message lasts: a sender killed mid-send leaves messages
    # "sending", and another drain sends them again (same retry key) once the claim has run out.
    sender_lease_seconds: float = 120.0
    # The scheduler's post-game job (bot/scheduler.py): a game nobody marks final counts as over
    # this long after tip-off, and a send found more than the grace period after the game's end
    # (the scheduler was down) is reported missed instead of sent late.
    game_length_minutes: int = 150
    post_game_grace_minutes: int = 180

    @property
    def account_name(self) -> str:
        """How the bot names itself to fans, e.g. 「みちのくスパークス公式アカウント」."""
        if self.account_name_override:
            return self.account_name_override
        return f"{self.team_name}公式アカウント" if self.team_name else "公式アカウント"

    @property
    def greeting(self) -> str:
        """The first words a new friend reads."""
        if self.greeting_override:
            return self.greeting_override
        return f"友だち追加ありがとうございます！{self.account_name}です。"

    @property
    def coupon_qr_key(self) -> bytes:
        """The key of the MAC inside coupon QR codes, derived from the app's secret key."""
        return hmac.new(self.secret_key.encode(), b"fanbot coupon QR key", hashlib.sha256).digest()

    @property
    def image_base_url(self) -> str:
        """The base of URLs that LINE's servers and fans' phones fetch images from."""
        return self.public_base_url or f"http://{self.host}:{self.port}"

    @property
    def line_api_data_base_url(self) -> str | None:
        # The emulator serves the data host (rich menu images) on the same base URL.
        return self.line_api_base_url

    @property
    def emulator_enabled(self) -> bool:
        return self.line_api_base_url is not None

    def check_for_serving(self) -> None:
        """Refuse to serve real fans with the development cookie secret."""
        if self.line_api_base_url is None and self.secret_key == DEV_SECRET_KEY and not self.testing:
            raise SettingsError(
                "FANBOT_SECRET_KEY is not set; it is required when serving the real LINE platform "
                "(sign-in cookies would be forgeable)"
            )
        if (
            self.line_api_base_url is None
            and not self.testing
            and not self.image_base_url.startswith("https://")
        ):
            raise SettingsError(
                "FANBOT_PUBLIC_BASE_URL must be the app's public https:// address when serving the real LINE "
                "platform (LINE shows images only from HTTPS URLs)"
            )

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``) over an optional ``.env`` file."""
        return cls._from_mapping(_read_env(environ, env_file))

    @classmethod
    def _from_mapping(cls, env: Mapping[str, str]) -> Settings:
        secret = _required(env, "LINE_CHANNEL_SECRET")
        token = _required(env, "LINE_CHANNEL_ACCESS_TOKEN")
        kwargs: dict[str, Any] = {"line_channel_secret": secret, "line_channel_access_token": token}
        if url := _database_url(env):
            kwargs["database_url"] = url
        if base := env.get("LINE_API_BASE_URL", "").strip():
            if not base.startswith(("http://", "https://")):
                raise SettingsError(f"LINE_API_BASE_URL must start with http:// or https://, got {base!r}")
            kwargs["line_api_base_url"] = base.rstrip("/")
        if key := env.get("FANBOT_SECRET_KEY", "").strip():
            kwargs["secret_key"] = key
        if port := env.get("PORT", "").strip():
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise SettingsError(f"PORT must be a TCP port number, got {port!r}")
            kwargs["port"] = int(port)
        if host := env.get("HOST", "").strip():
            kwargs["host"] = host
        if storage := env.get("FANBOT_RATELIMIT_STORAGE_URI", "").strip():
            if "://" not in storage:
                raise SettingsError(
                    "FANBOT_RATELIMIT_STORAGE_URI must be a storage URL like memory:// or redis://host, "
                    f"got {storage!r}"
                )
            kwargs["ratelimit_storage_uri"] = storage
        if basic_id := env.get("LINE_BOT_BASIC_ID", "").strip():
            if not basic_id.startswith("@"):
                raise SettingsError(
                    f"LINE_BOT_BASIC_ID must be the account's basic ID like @abc1234, got {basic_id!r}"
                )
            kwargs["line_basic_id"] = basic_id
        if analysis := env.get("FANBOT_ANALYSIS_DIR", "").strip():
            kwargs["analysis_dir"] = Path(analysis)
        if spec := env.get("FANBOT_LINE_OPENAPI_DIR", "").strip():
            kwargs["line_openapi_dir"] = Path(spec)
        if team := env.get("FANBOT_TEAM_NAME", "").strip():
            kwargs["team_name"] = _short(team, "FANBOT_TEAM_NAME", 40)
        if account := env.get("FANBOT_ACCOUNT_NAME", "").strip():
            kwargs["account_name_override"] = _short(account, "FANBOT_ACCOUNT_NAME", 60)
        if greeting := env.get("FANBOT_GREETING", "").strip():
            # .env files cannot hold a newline easily; \n in the value stands for one.
            kwargs["greeting_override"] = _short(greeting.replace("\\n", "\n"), "FANBOT_GREETING", 500)
        if workers := env.get("FANBOT_INBOX_WORKERS", "").strip():
            if not workers.isdigit() or not 0 < int(workers) <= 64:
                raise SettingsError(f"FANBOT_INBOX_WORKERS must be a number from 1 to 64, got {workers!r}")
            kwargs["inbox_workers"] = int(workers)
        if public := env.get("FANBOT_PUBLIC_BASE_URL", "").strip():
            if not public.startswith(("http://", "https://")):
                raise SettingsError(
                    f"FANBOT_PUBLIC_BASE_URL must start with https:// (or http:// locally), got {public!r}"
                )
            kwargs["public_base_url"] = public.rstrip("/")
        for name, key, ceiling in (
            ("FANBOT_SENDER_PUSH_RATE", "sender_push_rate", 2000.0),
            ("FANBOT_SENDER_MULTICAST_RATE", "sender_multicast_rate", 200.0),
        ):
            if raw := env.get(name, "").strip():
                kwargs[key] = _rate(raw, name, ceiling)
        if connections := env.get("FANBOT_SENDER_CONNECTIONS", "").strip():
            if not connections.isdigit() or not 0 < int(connections) <= 256:
                raise SettingsError(
                    f"FANBOT_SENDER_CONNECTIONS must be a number from 1 to 256, got {connections!r}"
                )
            kwargs["sender_connections"] = int(connections)
        if lease := env.get("FANBOT_SENDER_LEASE_SECONDS", "").strip():
            kwargs["sender_lease_seconds"] = _lease(lease)
        for name, key, most in (
            ("FANBOT_GAME_LENGTH_MINUTES", "game_length_minutes", 24 * 60),
            ("FANBOT_POST_GAME_GRACE_MINUTES", "post_game_grace_minutes", 7 * 24 * 60),
        ):
            if raw := env.get(name, "").strip():
                if not raw.isdigit() or not 1 <= int(raw) <= most:
                    raise SettingsError(f"{name} must be whole minutes from 1 to {most}, got {raw!r}")
                kwargs[key] = int(raw)
        if store := env.get("FANBOT_EMULATOR_STATE", "").strip():
            kwargs["emulator_state_path"] = None if store.lower() in OFF_WORDS else Path(store)
        return cls(**kwargs)


def _rate(raw: str, name: str, ceiling: float) -> float:
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0 < rate <= ceiling:
        raise SettingsError(
            f"{name} must be requests per second, above 0 and at most LINE's {ceiling:g}, got {raw!r}"
        )
    return rate


def _lease(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    # Shorter than a request can take, and a message still being sent would be claimed again.
    if not 1 <= seconds <= 3600:
        raise SettingsError(f"FANBOT_SENDER_LEASE_SECONDS must be seconds from 1 to 3600, got {raw!r}")
    return seconds


def _short(value: str, name: str, limit: int) -> str:
    if len(value) > limit:
        raise SettingsError(f"{name} must be at most {limit} characters, got {len(value)}")
    return value


@dataclass(frozen=True)
class DatabaseSettings:
    """What commands that never talk to LINE need: no channel secret, no access token.

    A marketer importing a file, or an operator upgrading the schema, should not have to
    hold the LINE channel's secrets.
    """

    database_url: str = field(default_factory=default_database_url)
    consent_version: str = CONSENT_VERSION

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> DatabaseSettings:
        values = _read_env(environ, env_file)
        url = _database_url(values)
        return cls(database_url=url) if url else cls()


def _read_env(environ: Mapping[str, str] | None, env_file: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def _database_url(env: Mapping[str, str]) -> str | None:
    url = env.get("DATABASE_URL", "").strip()
    if url and "://" not in url:
        raise SettingsError(f"DATABASE_URL must be a database URL like sqlite:///path, got {url!r}")
    return url or None


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set; it is required (see README: configuration)")
    return value


def demo_environment(port: int = 8000) -> dict[str, str]:
    """What `make run` uses for variables the user did not set."""
    return {
        "LINE_CHANNEL_SECRET": DEMO_CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": DEMO_ACCESS_TOKEN,
        "LINE_API_BASE_URL": f"http://127.0.0.1:{port}/emulator",
        "FANBOT_TEAM_NAME": DEMO_TEAM_NAME,
        "FANBOT_EMULATOR_STATE": DEMO_EMULATOR_STATE,
    }
