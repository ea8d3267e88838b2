"""What every command shares: settings without LINE's secrets where LINE is not involved, one
session per command, and a Japanese instruction instead of an SQL error on a bare database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.cli import cli
from bot.commands import COMMANDS
from bot.commands.session import NO_SCHEMA, session_scope
from data.database import make_engine
from data.migrate import alembic_config, current_revision, head_revision, upgrade
from data.models import Fan, StaffUser

# Every command that only uses the database, with arguments that make it do real work.
DATABASE_COMMANDS: dict[str, list[str]] = {
    "import-answers": ["import-answers", "{tmp}/answers.csv"],
    "export-answers": ["export-answers", "{tmp}/out.csv"],
    "survey stats": ["survey", "stats", "--csv"],
    "staff create": [
        "staff",
        "create",
        "new@example.com",
        "--name",
        "新人",
        "--password",
        "long enough pass",
    ],
    "analyze --from-database": ["analyze", "--from-database", "--out", "{tmp}/out", "--no-progress"],
}
NO_LINE = {"LINE_CHANNEL_SECRET": None, "LINE_CHANNEL_ACCESS_TOKEN": None, "LINE_API_BASE_URL": None}


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # Settings also read ./.env: only `env=` counts here


@pytest.fixture(scope="module")
def fanbot() -> click.Group:
    for command in COMMANDS():
        cli.add_command(command)
    return cli


def run(fanbot: click.Group, args: list[str], tmp_path: Path, database_url: str) -> Result:
    (tmp_path / "answers.csv").write_text(
        "id,likes_super_sento,likes_sauna\n" + "".join(f"r{n},{n % 2},{n % 3 % 2}\n" for n in range(6)),
        encoding="utf-8",
    )
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    return CliRunner().invoke(fanbot, argv, env={**NO_LINE, "DATABASE_URL": database_url})


@pytest.mark.parametrize("name", sorted(DATABASE_COMMANDS))
def test_commands_that_do_not_talk_to_line_run_without_line_secrets(
    fanbot: click.Group, name: str, database_url: str, tmp_path: Path
) -> None:
    if name != "import-answers":  # give the others something to read
        assert run(fanbot, DATABASE_COMMANDS["import-answers"], tmp_path, database_url).exit_code == 0

    result = run(fanbot, DATABASE_COMMANDS[name], tmp_path, database_url)

    assert result.exit_code == 0, result.output
    assert "LINE_CHANNEL" not in result.output


def test_db_upgrade_runs_without_line_secrets(fanbot: click.Group, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"

    result = run(fanbot, ["db", "upgrade"], tmp_path, url)

    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_commands_that_talk_to_line_still_need_its_secrets(fanbot: click.Group, tmp_path: Path) -> None:
    result = run(fanbot, ["richmenu", "setup"], tmp_path, f"sqlite:///{tmp_path / 'x.db'}")

    assert result.exit_code == 1
    assert "LINE_CHANNEL_SECRET is not set" in result.output


@pytest.fixture(params=["sqlite", "postgresql"])
def bare_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_admin_url: str | None
) -> Iterator[str]:
    """A database that exists but has no tables (nobody ran `fanbot db upgrade`)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bare.db'}"
        return
    if postgres_admin_url is None:
        pytest.skip("PostgreSQL not configured: set FANBOT_TEST_POSTGRES_URL (CI always does)")
    name = f"fanbot_bare_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("name", sorted(DATABASE_COMMANDS))
def test_on_a_database_without_tables_each_command_says_to_run_db_upgrade(
    fanbot: click.Group, name: str, bare_database_url: str, tmp_path: Path
) -> None:
    result = run(fanbot, DATABASE_COMMANDS[name], tmp_path, bare_database_url)

    assert result.exit_code == 1
    assert NO_SCHEMA in result.output
    assert "Traceback" not in result.output and "sqlalchemy" not in result.output.lower()


def test_a_database_behind_the_migrations_is_told_to_upgrade_too(fanbot: click.Group, tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    url = f"sqlite:///{tmp_path / 'old.db'}"
    revision = head_revision()
    assert revision is not None
    head = ScriptDirectory.from_config(alembic_config(url)).get_revision(revision)
    assert isinstance(head.down_revision, str), "needs a migration before the head"
    engine = make_engine(url)
    upgrade(engine, head.down_revision)
    engine.dispose()

    result = run(fanbot, ["survey", "stats"], tmp_path, url)

    assert result.exit_code == 1
    assert "`fanbot db upgrade` を実行してください" in result.output
    assert head.revision in result.output


def test_session_scope_commits_when_the_block_ends(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(Fan(source="import", external_ref="import:kept"))

    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Fan)) == 1


def test_session_scope_rolls_back_on_an_error(database_url: str) -> None:
    with pytest.raises(RuntimeError), session_scope(database_url) as session:
        session.add(Fan(source="import", external_ref="import:lost"))
        session.flush()
        raise RuntimeError("the command failed")

    engine = make_engine(database_url)
    with Session(engine) as check:
        assert check.scalar(select(func.count()).select_from(Fan)) == 0
        assert check.scalar(select(func.count()).select_from(StaffUser)) == 0
    engine.dispose()
