"""Game night under load: many clients posting signed webhook events to `fanbot serve`.

A real HTTP load (keep-alive connections, one thread per client) replays a game-night mix from
many distinct fans against ``fanbot serve`` (gunicorn, 2 processes × 8 threads, inbox workers in
each) with the LINE emulator answering its replies, on SQLite and on PostgreSQL. Beside it, the
same load against a bare Flask app that only verifies the signature, served the same way
(`bench/bare_webhook.py`): the ratio is fanbot's throughput over the bare app's.

The mix follows the conversation, like fans do: a new fan follows (3% of events); a fan whose
last answer has arrived taps the first postback button the bot actually sent them (70%: consent,
then survey answers), or types マイクーポン / 試合日程 (27%); 10% of requests carry two events of
two fans. A fan's next event waits for the bot's reply to their last one, as a person does.

Per level: events/s, acknowledgement latency p50/p95/p99 (what LINE waits for), the time from an
event to its reply accepted by the emulator (p50/p99), errors (non-200 answers, transport errors,
replies never seen). Targets (issue #11): p99 ack < 200 ms, no errors, ≥ 50% of the bare app's
throughput, every reply within 5 s.

Run: ``.venv/bin/python -m bench.load_bench [--quick] [--seconds S] [--levels 1,8,32,64]``;
PostgreSQL from ``FANBOT_BENCH_POSTGRES_URL`` (default the local test server; a database
``fanbot_load_bench`` is created and dropped).
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from line_emulator import EmulatorConfig, create_emulator_app, events
from line_emulator.server import EmulatorServer
from line_emulator.state import EmulatorState

SECRET = "bench-secret"
TOKEN = "bench-token"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "fanbot_load_bench"
REPLY_BUDGET = 5.0
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentile(samples: Sequence[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Fan:
    user_id: str
    seen: int = 0  # bot messages delivered when the fan last acted
    busy: bool = False


@dataclass
class LevelResult:
    clients: int
    events: int
    seconds: float
    ack: list[float] = field(default_factory=list)
    reply: list[float] = field(default_factory=list)
    errors: int = 0
    missing_replies: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class Mix:
    """Chooses each fan's next event from what the bot last sent them (read from the emulator)."""

    def __init__(self, state: EmulatorState, seed: int) -> None:
        self.state = state
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.fans: list[Fan] = []
        self.sent_at: dict[str, float] = {}  # reply token -> when its event was posted

    def _ready(self) -> Fan | None:
        # A sample, not a scan: the generator must stay cheap as the crowd grows.
        for fan in self.rng.sample(self.fans, min(24, len(self.fans))):
            if not fan.busy and len(self.state.messages_for(fan.user_id)) > fan.seen:
                return fan
        return None

    def _new_fan(self) -> Fan:
        user = self.state.create_user("負荷テスト")
        fan = Fan(user.user_id)
        self.state.set_following(fan.user_id, True)
        self.fans.append(fan)
        return fan

    def next_event(self) -> tuple[Fan, dict[str, Any]]:
        with self.lock:
            roll = self.rng.random()
            fan = None if roll < 0.03 else self._ready()
            if fan is None:
                fan = self._new_fan()
                kind = "follow"
            else:
                kind = "text" if roll < 0.30 else "postback"
            fan.busy = True
            delivered = self.state.messages_for(fan.user_id)
            fan.seen = len(delivered)
        token = self.state.issue_reply_token(fan.user_id, time.time())
        if kind == "follow":
            event = events.follow_event(fan.user_id, reply_token=token)
        elif kind == "postback" and (data := _first_postback(delivered)) is not None:
            event = events.postback_event(fan.user_id, data, reply_token=token)
        else:
            event = events.text_message_event(
                fan.user_id, self.rng.choice(["マイクーポン", "試合日程", "アンケート"]), reply_token=token
            )
        return fan, event

    def posted(self, fans: Sequence[Fan], event_list: Sequence[dict[str, Any]], at: float) -> None:
        for fan, event in zip(fans, event_list, strict=True):
            self.sent_at[event["replyToken"]] = at
            fan.busy = False


def _first_postback(messages: list[dict[str, Any]]) -> str | None:
    for message in reversed(messages):
        for item in (message.get("quickReply") or {}).get("items", []):
            action = item.get("action", {})
            if action.get("type") == "postback":
                return str(action["data"])
    return None


def _client(
    port: int, mix: Mix, stop: float, result: LevelResult, lock: threading.Lock, multi: random.Random
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.perf_counter() < stop:
        batch = [mix.next_event()]
        if multi.random() < 0.10:
            batch.append(mix.next_event())
        body = events.serialize(events.callback_body([e for _, e in batch], "Ubench"))
        headers = {"Content-Type": "application/json", "X-Line-Signature": events.sign(body, SECRET)}
        started = time.perf_counter()
        try:
            connection.request("POST", "/callback", body, headers)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        elapsed = time.perf_counter() - started
        mix.posted([fan for fan, _ in batch], [e for _, e in batch], time.time())
        with lock:
            result.ack.append(elapsed)
            result.events += len(batch)
            result.errors += 0 if ok else 1
    connection.close()


def run_level(
    port: int, mix: Mix | None, clients: int, seconds: float, state: EmulatorState | None
) -> LevelResult:
    """``clients`` connections posting for ``seconds``; with a mix, replies are matched to events."""
    result = LevelResult(clients=clients, events=0, seconds=seconds)
    lock = threading.Lock()
    requests_before = len(state.requests) if state is not None else 0
    own_mix = mix or Mix(_stub_state(), seed=clients)
    stop = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_client, args=(port, own_mix, stop, result, lock, random.Random(n)))
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if mix is not None and state is not None:
        # Replies still being handled get until the budget has passed.
        deadline = time.time() + REPLY_BUDGET
        expected = result.events
        while time.time() < deadline:
            replies = [r for r in state.requests[requests_before:] if r.path.endswith("/message/reply")]
            if len(replies) >= expected:
                break
            time.sleep(0.1)
        replies = [r for r in state.requests[requests_before:] if r.path.endswith("/message/reply")]
        for record in replies:
            token = (record.json or {}).get("replyToken")
            if token in mix.sent_at and record.status == 200:
                result.reply.append(record.received_at - mix.sent_at[token])
        result.missing_replies = max(0, expected - len(result.reply))
    return result


class _StubState:
    """Stands in for the emulator when posting to the bare app (no replies to follow)."""

    def __init__(self) -> None:
        self.users = 0

    def create_user(self, name: str) -> Any:
        self.users += 1
        return type("U", (), {"user_id": f"U{self.users:032x}"})()

    def set_following(self, user_id: str, following: bool) -> None:
        return None

    def messages_for(self, user_id: str) -> list[dict[str, Any]]:
        return [{"type": "text", "text": "x"}]

    def issue_reply_token(self, user_id: str, now: float) -> str:
        return f"token-{user_id}-{now}"


def _stub_state() -> Any:
    return _StubState()


def _wait_for(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError("server did not start")


def _serve_fanbot(database_url: str, emulator_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": emulator_url,
        "DATABASE_URL": database_url,
        "FANBOT_SECRET_KEY": "bench-secret-key-not-for-production",
        "FANBOT_EMULATOR_STATE": "off",
    }
    subprocess.run([str(VENV_BIN / "fanbot"), "db", "upgrade"], env=env, check=True, capture_output=True)
    command = [str(VENV_BIN / "fanbot"), "serve", "--bind", f"127.0.0.1:{port}", "--access-log", "/dev/null"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    _wait_for(port, "/healthz", process)
    return process


def _serve_bare(port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        str(VENV_BIN / "python"), "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--threads", "8", "--worker-class", "gthread", "bench.bare_webhook:app",
    ]  # fmt: skip
    env = {**os.environ, "LINE_CHANNEL_SECRET": SECRET}
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    _wait_for(port, "/callback", process)
    return process


def _postgres_database(admin_url: str) -> str | None:
    """A fresh benchmark database on the server of ``admin_url``, or None when it is unreachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from data.database import normalize_url

    engine = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    except OperationalError:
        return None
    finally:
        engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + BENCH_DB


def _row(label: str, result: LevelResult, bare: LevelResult | None) -> str:
    ack = [a * 1000 for a in result.ack]
    reply = result.reply
    ratio = result.rate / bare.rate if bare and bare.rate else float("nan")
    bare_rate = bare.rate if bare else float("nan")
    bare_p99 = _percentile([a * 1000 for a in bare.ack], 0.99) if bare else float("nan")
    return (
        f"{label:<10} {result.clients:>7} {result.rate:>7.0f} {_percentile(ack, 0.5):>6.1f} "
        f"{_percentile(ack, 0.95):>6.1f} {_percentile(ack, 0.99):>7.1f} "
        f"{_percentile(reply, 0.5):>7.2f} {_percentile(reply, 0.99):>7.2f} "
        f"{result.errors + result.missing_replies:>6} "
        f"{bare_rate:>7.0f} {bare_p99:>8.1f} "
        f"{ratio:>6.2f}"
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two short levels on SQLite only (smoke run)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--levels", default=None, help="comma-separated client counts")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.5 if args.quick else 6.0)
    levels = [int(n) for n in (args.levels or ("1,8" if args.quick else "1,8,32,64")).split(",")]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    print(f"game-night load: signed webhook events, {seconds:g} s per level, fanbot serve vs bare Flask")
    print(
        f"{'engine':<10} {'clients':>7} {'ev/s':>7} {'p50ms':>6} {'p95ms':>6} {'p99ms':>7} "
        f"{'reply50':>7} {'reply99':>7} {'errors':>6} {'bare/s':>7} {'bare p99':>8} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="fanbot-load-") as folder:
        bare_port = _free_port()
        bare = _serve_bare(bare_port, Path(folder) / "bare.log")
        try:
            bare_results = {n: run_level(bare_port, None, n, seconds, None) for n in levels}
        finally:
            bare.terminate()
            bare.wait(timeout=20)
        engines: list[tuple[str, str | None]] = [("sqlite", f"sqlite:///{Path(folder) / 'load.db'}")]
        if not args.quick:
            engines.append(
                ("postgresql", _postgres_database(os.environ.get("FANBOT_BENCH_POSTGRES_URL", DEFAULT_PG)))
            )
        for engine, url in engines:
            if url is None:
                print(f"{engine:<10} skipped: the server could not be reached")
                continue
            emulator_app = create_emulator_app(
                EmulatorConfig(
                    channel_secret=SECRET, channel_access_token=TOKEN, webhook_url="http://127.0.0.1:9/"
                )
            )
            state: EmulatorState = emulator_app.extensions["line_emulator"]
            with EmulatorServer(emulator_app) as emulator:
                port = _free_port()
                server = _serve_fanbot(url, emulator.base_url, port, Path(folder) / f"{engine}.log")
                try:
                    mix = Mix(state, seed=11)
                    for clients in levels:
                        print(
                            _row(engine, run_level(port, mix, clients, seconds, state), bare_results[clients])
                        )
                        sys.stdout.flush()
                finally:
                    server.terminate()
                    server.wait(timeout=30)
            emulator_app.extensions["line_emulator_sender"].close()
    print("ack = time to LINE's 200; reply = event posted -> reply accepted by the emulator (s);")
    print(
        "errors = non-200 answers + transport errors + replies not seen within 5 s; ratio = ev/s / bare ev/s"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
