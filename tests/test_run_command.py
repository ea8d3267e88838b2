"""`fanbot run` (what `make run` calls) as a newcomer sees it: URLs first, then a working product."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.test_e2e_browser import free_port


def wait_for(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: bytes = response.read()
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_run_prints_the_urls_first_and_serves_bot_emulator_and_admin(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LINE_", "DATABASE_URL", "FANBOT_SECRET"))
    }
    env.update({"PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"})
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() == f"fanbot is starting at http://127.0.0.1:{port}/"
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        health = json.loads(wait_for(base + "/healthz", deadline))
        assert health == {"status": "ok", "database": "ok"}
        assert "LINE エミュレーター" in wait_for(base + "/emulator/", deadline).decode()
        assert "ログイン" in wait_for(base + "/admin/login", deadline).decode()
        # The demo data went into the configured database, not into the working directory's var/.
        assert (tmp_path / "run.db").is_file()
        lines = [process.stdout.readline() for _ in range(14)]
        scheduler_pid = int(
            next(line for line in lines if "scheduler:" in line).rsplit("process ", 1)[1].rstrip(")\n")
        )
        os.kill(scheduler_pid, 0)  # the scheduler runs, in a process of its own
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
    # Stopping `make run` stops the scheduler too.
    for _ in range(100):
        try:
            os.kill(scheduler_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the scheduler outlived fanbot run")


def test_emulator_is_never_mounted_without_line_api_base_url(tmp_path: Path) -> None:
    from bot.commands.run import build_dev_app
    from bot.settings import Settings

    for base_url in (None, "https://api.line.me"):
        settings = Settings(
            line_channel_secret="s",
            line_channel_access_token="t",
            database_url=f"sqlite:///{tmp_path / 'x.db'}",
            line_api_base_url=base_url,
            port=8000,
            secret_key="a-production-secret",
            public_base_url="https://fanbot.example.jp",
        )
        app = build_dev_app(settings)
        assert "line_emulator_app" not in app.extensions
        assert app.test_client().get("/emulator/").status_code == 404
        assert app.test_client().post("/emulator/v2/bot/message/push", json={}).status_code == 404
        app.extensions["fanbot.line_client"].close()


def test_emulator_is_mounted_when_the_bot_points_at_it(tmp_path: Path) -> None:
    from bot.commands.run import build_dev_app
    from bot.settings import Settings

    settings = Settings(
        line_channel_secret="s",
        line_channel_access_token="t",
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        line_api_base_url="http://127.0.0.1:8000/emulator",
        port=8000,
    )
    app = build_dev_app(settings)
    assert app.test_client().get("/emulator/").status_code == 200
    app.extensions["line_emulator_app"].extensions["line_emulator_sender"].close()
    app.extensions["fanbot.line_client"].close()
