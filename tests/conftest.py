"""Shared fixtures: a fresh database per test on SQLite and PostgreSQL, the app, a frozen clock."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import coupons.models  # noqa: F401  (coupon tables on Base.metadata: truncated between tests)
import data.line_quota  # (and the stored LINE quota)
import data.outbox  # noqa: F401  (the outbox table too)
from bot.app import create_app
from bot.line_client import LineClient
from bot.settings import Settings
from data.database import make_engine, normalize_url
from data.migrate import upgrade
from data.models import Base, StaffUser
from line_emulator.server import EmulatorServer
from line_emulator.state import EmulatorState
from tests.line_driver import LineDriver

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class FrozenClock:
    """A clock tests move by hand; every component reads time through it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> FrozenClock:
    # A Saturday evening in Tokyo, after a home game.
    return FrozenClock(datetime(2026, 11, 28, 12, 30, tzinfo=UTC))


@pytest.fixture(scope="session")
def postgres_admin_url() -> str | None:
    raw = os.environ.get("FANBOT_TEST_POSTGRES_URL", "").strip()
    if not raw:
        if IN_CI:
            pytest.fail("CI=true but FANBOT_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI")
        return None
    url = normalize_url(raw)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {raw} is unreachable: {error}")
        return None
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str | None) -> Iterator[str | None]:
    """A database of its own for this test run, migrated once; tests truncate after themselves."""
    if postgres_admin_url is None:
        yield None
        return
    name = f"fanbot_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "fanbot.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def truncate_all(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        existing = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        names = {row[0] for row in existing}
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name in names)
        if tables:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """Every database test runs on both engines."""
    if request.param == "sqlite":
        path = tmp_path / "fanbot.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    if url is None:
        pytest.skip("PostgreSQL not configured: set FANBOT_TEST_POSTGRES_URL (CI always does)")
    yield url
    truncate_all(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A plain session for domain tests; the test decides when to commit."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


CHANNEL_SECRET = "test-channel-secret"
TEAM_NAME = "テストスパークス"
ACCESS_TOKEN = "test-access-token"


@dataclass
class RunningEmulator:
    app: Flask
    server: EmulatorServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def state(self) -> EmulatorState:
        state: EmulatorState = self.app.extensions["line_emulator"]
        return state


# Tests whose bot requests went through an emulator that validated them against the spec.
CONTRACT_CHECKED: set[str] = set()


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[RunningEmulator]:
    """The LINE emulator on a real local port, validating every request against the official spec."""
    from line_emulator import EmulatorConfig, create_emulator_app
    from line_emulator.contract import default_spec_dir

    config = EmulatorConfig(
        channel_secret=CHANNEL_SECRET,
        channel_access_token=ACCESS_TOKEN,
        webhook_url="http://127.0.0.1:9/callback",
        spec_dir=default_spec_dir(),
    )
    emulator_app = create_emulator_app(config)
    server = EmulatorServer(emulator_app)
    server.start()
    yield RunningEmulator(emulator_app, server)
    server.stop()
    emulator_app.extensions["line_emulator_sender"].close()
    if emulator_app.extensions["line_emulator"].requests:
        CONTRACT_CHECKED.add(request.node.nodeid)


def emulator_state(running: RunningEmulator) -> EmulatorState:
    return running.state


@pytest.fixture
def line_client(emulator: RunningEmulator) -> Iterator[LineClient]:
    """fanbot's LINE client talking to the emulator; fails the test on any contract violation."""
    client = LineClient(
        Settings(
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=ACCESS_TOKEN,
            line_api_base_url=emulator.base_url,
            testing=True,
            line_timeout_seconds=5.0,
        )
    )
    yield client
    client.close()
    assert emulator.state.violations == []


@pytest.fixture
def settings(database_url: str, emulator: RunningEmulator) -> Settings:
    return Settings(
        line_channel_secret=CHANNEL_SECRET,
        line_channel_access_token=ACCESS_TOKEN,
        database_url=database_url,
        line_api_base_url=emulator.base_url,
        testing=True,
        line_timeout_seconds=5.0,
        team_name=TEAM_NAME,
    )


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, emulator: RunningEmulator) -> Iterator[Flask]:
    app = create_app(settings, clock=clock)
    yield app
    app.extensions["fanbot.db"].dispose()
    app.extensions["fanbot.line_client"].close()
    # The contract: nothing the bot sent during the test broke the official spec.
    assert emulator_state(emulator).violations == []


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask, database_url: str) -> Iterator[Session]:
    """A session on the app's database, for checking what the app stored.

    It uses a plain engine: the app's SQLite engine takes the write lock at BEGIN,
    and a test holding a read open must not block the app it is watching.
    """
    engine = create_engine(normalize_url(database_url))
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def line(client: FlaskClient, emulator: RunningEmulator) -> LineDriver:
    return LineDriver(client, emulator_state(emulator), CHANNEL_SECRET)


@pytest.fixture
def fan_id(line: LineDriver) -> str:
    """A fan who followed and agreed to the survey."""
    from tests.line_driver import postback_data

    user = line.new_fan("ファン太郎")
    replies = line.follow(user)
    line.postback(user, postback_data(replies[-1], "同意する"))
    return user


@pytest.fixture
def emulator_requests(emulator: RunningEmulator) -> Any:
    """Every Messaging API request the emulator received so far."""
    return lambda: list(emulator_state(emulator).requests)


MARKETER_EMAIL = "marketer@example.com"
MARKETER_PASSWORD = "correct horse battery"


@pytest.fixture
def marketer(app: Flask, clock: FrozenClock) -> StaffUser:
    from data.staff import create_staff_user

    with app.extensions["fanbot.db"].transaction() as db:
        return create_staff_user(db, MARKETER_EMAIL, "マーケ 花子", MARKETER_PASSWORD, now=clock())


def form_csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


@pytest.fixture
def admin_client(client: FlaskClient, marketer: StaffUser) -> FlaskClient:
    """A browser session signed in as the marketer."""
    token = form_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login", data={"csrf": token, "email": MARKETER_EMAIL, "password": MARKETER_PASSWORD}
    )
    assert response.status_code == 302
    return client


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say, in CI's output, how many database tests ran on each engine and how many checked the contract."""
    per_engine: dict[str, int] = {"sqlite": 0, "postgresql": 0}
    contract = 0
    for report in terminalreporter.stats.get("passed", []):
        if report.when != "call":
            continue
        for engine in per_engine:
            if (
                f"[{engine}" in report.nodeid
                or f"-{engine}]" in report.nodeid
                or f"-{engine}-" in report.nodeid
            ):
                per_engine[engine] += 1
        if report.nodeid in CONTRACT_CHECKED:
            contract += 1
    terminalreporter.write_sep("-", "database and contract coverage")
    terminalreporter.write_line(
        f"database tests passed: {per_engine['sqlite']} on SQLite, {per_engine['postgresql']} on PostgreSQL"
    )
    terminalreporter.write_line(
        f"tests whose LINE API requests were validated against the official OpenAPI spec: {contract}"
    )
