"""``python -m line_emulator`` serves the fake API and the chat page without the product."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from line_emulator.__main__ import parse_config
from line_emulator.app import create_emulator_app
from line_emulator.contract import SpecMissingError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_command_line_sets_the_channel_and_webhook() -> None:
    config, host, port = parse_config(
        ["--port", "9123", "--webhook-url", "http://127.0.0.1:5000/callback", "--channel-secret", "s"]
    )

    assert (host, port) == ("127.0.0.1", 9123)
    assert config.webhook_url == "http://127.0.0.1:5000/callback"
    assert config.channel_secret == "s"
    assert config.spec_dir is None  # the vendored copy


def test_a_spec_dir_without_the_documents_stops_the_emulator(tmp_path: Path) -> None:
    config, _, _ = parse_config(["--spec-dir", str(tmp_path)])

    with pytest.raises(SpecMissingError):
        create_emulator_app(config)


def test_runs_as_its_own_program_and_validates_against_the_vendored_spec(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "line_emulator", "--port", str(port), "--channel-access-token", "tok"],
        cwd=tmp_path,  # outside the repository: nothing may depend on the working directory
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        page = None
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{base}/", timeout=2) as response:
                    page = response.read().decode("utf-8")
                break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.05)
        assert page is not None, "the emulator did not answer on its port"
        assert "LINE エミュレーター" in page

        request = urllib.request.Request(
            f"{base}/v2/bot/message/push",
            data=b'{"to": "U0123456789abcdef0123456789abcdef", "messages": [{"type": "text"}]}',
            headers={"Authorization": "Bearer tok", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 400
        assert "messages[0].text" in refused.value.read().decode("utf-8")
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
