"""`fanbot serve`: gunicorn in front of the app, read timeouts against slow clients, no versions leaked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from line_emulator import events
from tests.conftest import CHANNEL_SECRET


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raw_request(port: int, data: bytes, timeout: float = 30.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": "token",
        "LINE_API_BASE_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    fanbot = [sys.executable, "-m", "bot"]
    subprocess.run([*fanbot, "db", "upgrade"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [
            *fanbot,
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "1",
            "--read-timeout",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise AssertionError("fanbot serve exited") from None
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def signed_follow() -> bytes:
    body = events.serialize(
        events.callback_body([events.follow_event("U" + "5" * 32, reply_token="r" * 32)], "U" + "0f" * 16)
    )
    head = (
        "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        f"X-Line-Signature: {events.sign(body, CHANNEL_SECRET)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def test_serve_acknowledges_a_signed_webhook_without_naming_its_software_versions(served: int) -> None:
    answer = raw_request(served, signed_follow())
    head = answer.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 200")
    assert "Werkzeug" not in head and "Python" not in head


def test_a_client_that_never_sends_its_body_does_not_hold_the_only_thread(served: int) -> None:
    stalled = socket.create_connection(("127.0.0.1", served), timeout=30)
    try:
        stalled.sendall(
            b"POST /callback HTTP/1.1\r\nHost: x\r\nX-Line-Signature: x\r\nContent-Length: 100\r\n\r\n"
        )
        # One thread serves everything here: this answer arrives only if the stalled read timed out.
        answer = raw_request(served, signed_follow(), timeout=60)
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        stalled.close()


def test_a_chunked_body_with_a_bad_chunk_header_is_a_client_error(served: int) -> None:
    answer = raw_request(
        served,
        b"POST /callback HTTP/1.1\r\nHost: x\r\nX-Line-Signature: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400")
