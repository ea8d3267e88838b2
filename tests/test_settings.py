from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands.run import dev_settings
from bot.settings import Settings, SettingsError

BASE = {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}


def test_defaults_use_sqlite_file_and_the_real_line_platform() -> None:
    settings = Settings.from_env(BASE, env_file=None)
    assert settings.database_url == "sqlite:///var/fanbot.db"
    assert settings.line_api_base_url is None
    assert not settings.emulator_enabled


def test_missing_secret_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="LINE_CHANNEL_SECRET"):
        Settings.from_env({"LINE_CHANNEL_ACCESS_TOKEN": "t"}, env_file=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DATABASE_URL", "fanbot.db"),
        ("LINE_API_BASE_URL", "api.line.me"),
        ("FANBOT_PUBLIC_BASE_URL", "fanbot.example.jp"),
        ("FANBOT_SENDER_PUSH_RATE", "fast"),
        ("FANBOT_SENDER_PUSH_RATE", "2500"),  # above LINE's limit: every push past it is a 429
        ("FANBOT_SENDER_MULTICAST_RATE", "0"),
        ("FANBOT_SENDER_CONNECTIONS", "0"),
        ("FANBOT_SENDER_LEASE_SECONDS", "0.5"),
        ("FANBOT_SENDER_LEASE_SECONDS", "soon"),
        ("FANBOT_GAME_LENGTH_MINUTES", "0"),
        ("FANBOT_POST_GAME_GRACE_MINUTES", "3h"),
    ],
)
def test_bad_value_fails_fast_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, name: value}, env_file=None)


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LINE_CHANNEL_SECRET=from-file\nLINE_CHANNEL_ACCESS_TOKEN=file-token\nPORT=9000\n")
    settings = Settings.from_env({"PORT": "9100"}, env_file=env_file)
    assert settings.line_channel_secret == "from-file"
    assert settings.port == 9100


def test_make_run_fills_demo_values_but_keeps_what_the_user_set() -> None:
    settings = dev_settings({"PORT": "8123", "LINE_CHANNEL_SECRET": "mine", "DATABASE_URL": ""})
    assert settings.line_channel_secret == "mine"
    assert settings.line_api_base_url == "http://127.0.0.1:8123/emulator"
    assert settings.database_url.startswith("sqlite:///")


def test_serving_real_line_fans_needs_a_cookie_secret(tmp_path: Path) -> None:
    from bot.app import create_app

    production = Settings.from_env({**BASE, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}, env_file=None)
    with pytest.raises(SettingsError, match="FANBOT_SECRET_KEY"):
        create_app(production)
    keyed = production.with_overrides(secret_key="a-long-random-production-secret")
    # Real LINE shows coupon QR images only from HTTPS URLs.
    with pytest.raises(SettingsError, match="FANBOT_PUBLIC_BASE_URL"):
        create_app(keyed)
    with pytest.raises(SettingsError, match="FANBOT_PUBLIC_BASE_URL"):
        create_app(keyed.with_overrides(public_base_url="http://fanbot.example.jp"))
    app = create_app(keyed.with_overrides(public_base_url="https://fanbot.example.jp"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["fanbot.line_client"].close()


def test_the_team_name_and_greeting_are_configuration() -> None:
    plain = Settings.from_env(BASE, env_file=None)
    team = Settings.from_env({**BASE, "FANBOT_TEAM_NAME": "青森ワッツ"}, env_file=None)
    custom = Settings.from_env(
        {**BASE, "FANBOT_ACCOUNT_NAME": "ワッツ公式", "FANBOT_GREETING": "ようこそ！\\nよろしくね"},
        env_file=None,
    )

    assert plain.account_name == "公式アカウント" and "チーム" not in plain.greeting
    assert team.account_name == "青森ワッツ公式アカウント"
    assert team.greeting == "友だち追加ありがとうございます！青森ワッツ公式アカウントです。"
    assert custom.account_name == "ワッツ公式" and custom.greeting == "ようこそ！\nよろしくね"


def test_a_team_name_too_long_for_a_chat_line_is_refused() -> None:
    with pytest.raises(SettingsError, match="FANBOT_TEAM_NAME"):
        Settings.from_env({**BASE, "FANBOT_TEAM_NAME": "あ" * 41}, env_file=None)


def test_make_run_names_the_demo_team_and_keeps_the_emulator_in_var() -> None:
    settings = dev_settings({})

    assert settings.team_name == "みちのくスパークス"
    assert settings.emulator_state_path == Path("var/emulator.json")
    assert dev_settings({"FANBOT_EMULATOR_STATE": "off"}).emulator_state_path is None
    assert Settings.from_env(BASE, env_file=None).emulator_state_path is None


def test_the_senders_rates_default_just_under_lines_limits_and_can_be_set() -> None:
    default = Settings.from_env(BASE, env_file=None)
    tuned = Settings.from_env(
        {**BASE, "FANBOT_SENDER_PUSH_RATE": "950", "FANBOT_SENDER_MULTICAST_RATE": "95.5"}, env_file=None
    )

    assert (default.sender_push_rate, default.sender_multicast_rate) == (1900.0, 190.0)
    assert (tuned.sender_push_rate, tuned.sender_multicast_rate) == (950.0, 95.5)


def test_the_game_length_and_the_post_game_grace_period_default_to_the_schedulers_and_can_be_set() -> None:
    from datetime import timedelta

    from bot.scheduler import GAME_LENGTH, GRACE

    default = Settings.from_env(BASE, env_file=None)
    tuned = Settings.from_env(
        {**BASE, "FANBOT_GAME_LENGTH_MINUTES": "120", "FANBOT_POST_GAME_GRACE_MINUTES": "45"}, env_file=None
    )

    assert timedelta(minutes=default.game_length_minutes) == GAME_LENGTH
    assert timedelta(minutes=default.post_game_grace_minutes) == GRACE
    assert (tuned.game_length_minutes, tuned.post_game_grace_minutes) == (120, 45)


def test_the_senders_lease_defaults_to_two_minutes_and_can_be_set() -> None:
    from datetime import timedelta

    from bot.sender import SenderPolicy

    default = Settings.from_env(BASE, env_file=None)
    short = Settings.from_env({**BASE, "FANBOT_SENDER_LEASE_SECONDS": "3"}, env_file=None)

    assert SenderPolicy.from_settings(default).lease == timedelta(minutes=2)
    assert SenderPolicy.from_settings(short).lease == timedelta(seconds=3)
