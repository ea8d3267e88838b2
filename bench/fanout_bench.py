"""After the final buzzer: the post-game fan-out to N matched fans, against LINE's rate limits (issue #8).

First the emulator's own capacity, alone: a bare aiohttp client (no limiter, 32 connections, like
the sender's) firing pre-serialised coupon-card pushes, each body different, at an emulator with
no rate limit. That is the most any sender can get out of this emulator on this machine, and the
baseline of the ratios.

Then the product's path on real data, each part in a process of its own (as in production the
emulator is LINE, far away): N fans who answered the survey, a partner, two active campaigns (one
attached to the home game, one to every home game), the game marked final; the scheduler's
post-game job (`bot.scheduler.post_game_sweep`: audiences, coupons, one outbox row per fan with a
personalised two-card carousel, in one transaction), then `bot.sender.Sender.drain` against the
emulator with LINE's limits (push 2,000 requests/s, multicast 200/s). Reported: the time from the
job's start to the last message accepted, the drain's rate (messages per second from the drain's
start to the last acceptance) as a share of 2,000/s (target >= 95%), 429 answers (target 0), the
sender's peak RSS (flat in N), and whether every fan got exactly one message. The multicast case
queues one identical, non-personal message for every fan (batches of 500) and drains it the same way.

Beside the emulator rows, the same fan-outs against `bench.fanout_bare`, a stand-in that only
keeps LINE's limits and retry keys: what the sender itself reaches when the other end costs
nothing. On a 2-core machine the emulator (Flask, werkzeug, full contract validation, in one
Python process) answers a few hundred carousel pushes a second, so its rows measure the emulator;
the 2,000/s target can only be seen against the stand-in. The sender's own limiter is 1,900/s
(95% of LINE's) unless ``FANBOT_SENDER_PUSH_RATE`` says otherwise.

Run: ``.venv/bin/python -m bench.fanout_bench [--quick] [--fans 10000,100000] [--baseline N]``
(or ``FANBOT_BENCH_FANOUT_FANS=10000,100000``). SQLite files in a temporary folder; the emulator
holds every request it answered, about 1 GB at 100,000 fans. The default (10,000 and 100,000
fans) took 12 minutes on the 2-core development machine shared with other work (load 4 to 8);
``--fans 10000`` about 2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.fanout_emulator import TOKEN, user_id

# The job runs at 17:30 in Tokyo, outside quiet hours, whenever the bench runs.
NOW = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
TIPOFF = NOW - timedelta(hours=2, minutes=25)
SIZES_ENV = "FANBOT_BENCH_FANOUT_FANS"
LINE_PUSH_LIMIT = 2000.0
LINE_MULTICAST_LIMIT = 200.0
CONNECTIONS = 32
CASE_WIDTH = 44
PYTHON = sys.executable
TOKYO_TIPOFF = (TIPOFF + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M")
SCHEDULE = f"key,tipoff,opponent,home_away,venue\nbench,{TOKYO_TIPOFF},仙台89ERS,home,アリーナ\n"


# -- helpers shared with the child processes ----------------------------------------------


def _settings(database_url: str, emulator_url: str | None = None, push_rate: float | None = None) -> Any:
    from bot.settings import Settings

    extra: dict[str, Any] = {} if push_rate is None else {"sender_push_rate": push_rate}
    return Settings(
        line_channel_secret="bench-secret",
        line_channel_access_token=TOKEN,
        database_url=database_url,
        line_api_base_url=emulator_url,
        public_base_url="https://fanbot.example",
        **extra,
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _clock(origin_wall: float) -> Any:
    """The job's clock: NOW when the benchmark started, moving with the wall clock."""
    return lambda: NOW + timedelta(seconds=time.time() - origin_wall)


# -- the data (in the benchmark's own process, untimed) ------------------------------------


def prepare(database_url: str, fans: int) -> None:
    """N fans who answered the survey, two partners' campaigns for the home game, the game final."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from coupons.models import Campaign
    from coupons.partners import create_partner
    from data.database import make_engine
    from data.games import import_games, mark_final, parse_games_csv
    from data.migrate import upgrade
    from data.models import Answer, Fan

    engine = make_engine(database_url)
    upgrade(engine)
    version = _settings(database_url).consent_version
    with Session(engine) as session:
        for start in range(0, fans, 20_000):
            session.execute(
                insert(Fan),
                [
                    {
                        "line_user_id": user_id(n),
                        "source": "line",
                        "is_following": True,
                        "followed_at": NOW - timedelta(days=30),
                        "consented_at": NOW - timedelta(days=30),
                        "consent_version": version,
                        "created_at": NOW - timedelta(days=30),
                    }
                    for n in range(start, min(fans, start + 20_000))
                ],
            )
        ids = session.scalars(select(Fan.id).order_by(Fan.id)).all()
        for start in range(0, len(ids), 20_000):
            session.execute(
                insert(Answer),
                [
                    {"fan_id": i, "item_id": "likes_super_sento", "value": 1.0, "answered_at": NOW}
                    for i in ids[start : start + 20_000]
                ],
            )
        import_games(session, parse_games_csv(SCHEDULE), NOW - timedelta(days=7))
        game = mark_final(session, "bench", "85-79", NOW)
        for title, offer, attach in (
            ("入浴200円引き", "入館料から200円引き", {"game_id": game.id}),
            ("ドリンク1杯無料", "ソフトドリンク1杯無料", {"all_home_games": True}),
        ):
            shop = create_partner(session, name=f"{title}の店", access_code=f"code-{title}", now=NOW)
            shop.address = "仙台市青葉区1-2-3"
            session.add(
                Campaign(
                    partner_id=shop.id,
                    title=title,
                    offer_text=offer,
                    terms="お一人様1回限り",
                    valid_hours=48,
                    total_cap=fans,
                    target_rule={"all": [{"item": "likes_super_sento", "op": "=", "value": 1}]},
                    holdout_share=0.0,
                    state="active",
                    win_text="勝利！応援ありがとうございました。パートナー店舗のクーポンをお届けします。",
                    created_at=NOW - timedelta(days=1),
                    updated_at=NOW - timedelta(days=1),
                    **attach,
                )
            )
        session.commit()
    engine.dispose()


# -- child processes ------------------------------------------------------------------------


def child_job(database_url: str, origin_wall: float, mode: str) -> None:
    """The post-game job (or, for ``multicast``, one shared message queued for every fan)."""
    from bot.scheduler import post_game_sweep
    from data.catalog import load_catalog
    from data.database import make_engine, make_session_factory

    started = time.time()  # the scheduler's process has its imports done when a game ends

    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    clock = _clock(origin_wall)
    if mode == "push":
        report = post_game_sweep(sessions, _settings(database_url), load_catalog(), clock())
        messages = report.messages
    else:
        messages = _queue_shared(sessions, clock())
    engine.dispose()
    print(json.dumps({"started": started, "ended": time.time(), "messages": messages, "rss": _peak_rss_mb()}))


def _queue_shared(sessions: Any, now: datetime) -> int:
    from linebot.v3.messaging import TextMessage
    from sqlalchemy import select

    from bot.line_client import serialize_messages
    from bot.postgame import THANKS
    from data.models import Fan
    from data.outbox import OutboxItem, enqueue

    payload = serialize_messages([TextMessage(text=THANKS["win"])])
    with sessions() as session, session.begin():
        fans = session.execute(select(Fan.id, Fan.line_user_id).order_by(Fan.id)).all()
        items = (
            OutboxItem(fan_id=i, line_user_id=str(u), payload=payload, personal=False, priority=1.0)
            for i, u in fans
        )
        return enqueue(session, items, now).messages


def child_drain(database_url: str, emulator_url: str, origin_wall: float, push_rate: float | None) -> None:
    """The sender: imports done, waits for "go" on standard input, drains once, reports."""
    from bot.sender import Sender
    from data.database import make_engine, make_session_factory

    settings = _settings(database_url, emulator_url, push_rate)
    engine = make_engine(database_url)
    sender = Sender(make_session_factory(engine), settings, clock=_clock(origin_wall))
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    report = sender.drain()
    ended = time.time()
    engine.dispose()
    print(
        json.dumps(
            {
                "started": started,
                "ended": ended,
                "sent": report.sent,
                "requests": report.requests,
                "rate_limited": report.rate_limited,
                "retry_later": report.retry_later,
                "failed": report.failed,
                "rss": _peak_rss_mb(),
            }
        )
    )


# -- the emulator and the bare client ---------------------------------------------------------


class Emulator:
    """`bench.fanout_emulator` in its own process."""

    def __init__(
        self, users: int, push_rate: float | None, multicast_rate: float | None, *, bare: bool = False
    ) -> None:
        command = [PYTHON, "-m", "bench.fanout_emulator", "--users", str(users)]
        if bare:  # LINE's limits are built in
            command = [PYTHON, "-m", "bench.fanout_bare"]
        if push_rate is not None:
            command += ["--push-rate", str(push_rate)]
        if multicast_rate is not None:
            command += ["--multicast-rate", str(multicast_rate)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.split()[1]

    def stats(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(self.url + "/bench/stats", timeout=600) as response:
            result: dict[str, Any] = json.load(response)
        return result

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.process.stdout.close()


def _push_bodies(count: int) -> list[bytes]:
    """``count`` different coupon-card pushes, built like the post-game job builds them."""
    from linebot.v3.messaging import TextMessage

    from bot.coupon_cards import coupon_carousel
    from coupons.codes import format_code, new_code
    from coupons.wallet import HeldCoupon

    settings = _settings("sqlite://")
    template_coupons = [
        HeldCoupon(
            code=new_code(),
            partner_name=f"{title}の店",
            partner_address="仙台市青葉区1-2-3",
            title=title,
            offer_text="特典",
            terms="お一人様1回限り",
            image_url=None,
            valid_from=NOW,
            expires_at=NOW + timedelta(hours=48),
        )
        for n, title in enumerate(("入浴200円引き", "ドリンク1杯無料"))
    ]
    words = TextMessage(text="勝利！応援ありがとうございました。").to_dict()
    template = json.dumps(
        [words, coupon_carousel(template_coupons, settings, NOW).to_dict()],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    bodies = []
    for n in range(count):
        text = template
        for coupon in template_coupons:
            # Each fan's own codes, in the card's text and in its QR image's address.
            code = new_code()
            text = text.replace(format_code(coupon.code), format_code(code)).replace(coupon.code, code)
        bodies.append(('{"to":"' + user_id(n) + '","messages":' + text + "}").encode())
    return bodies


def _multicast_bodies(count: int, fans: int) -> list[bytes]:
    from linebot.v3.messaging import TextMessage

    from bot.line_client import serialize_messages
    from bot.postgame import THANKS

    messages = serialize_messages([TextMessage(text=THANKS["win"])])
    bodies = []
    for n in range(count):
        first = (n * 500) % max(1, fans - 499)
        to = json.dumps([user_id(i) for i in range(first, first + 500)])
        bodies.append(('{"to":' + to + ',"messages":' + messages + "}").encode())
    return bodies


async def _fire(url: str, bodies: list[bytes], connections: int) -> tuple[float, dict[int, int]]:
    """Post every body as fast as ``connections`` concurrent requests allow; (seconds, statuses)."""
    import aiohttp

    statuses: dict[int, int] = {}
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections), headers=headers
    ) as session:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with session.post(url, data=body, headers={"X-Line-Retry-Key": str(uuid.uuid4())}) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - started, statuses


# -- the runs -----------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    requests: int
    seconds: float
    rate: float  # requests per second
    limit: float | None = None
    rate_limited: int = 0
    rss_mb: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def emulator_alone(kind: str, requests: int, fans: int) -> Row:
    bodies = _push_bodies(requests) if kind == "push" else _multicast_bodies(requests, fans)
    emulator = Emulator(max(fans, requests if kind == "push" else 500), None, None)
    try:
        path = "/v2/bot/message/push" if kind == "push" else "/v2/bot/message/multicast"
        seconds, statuses = asyncio.run(_fire(emulator.url + path, bodies, CONNECTIONS))
    finally:
        emulator.close()
    ok = statuses.get(200, 0)
    note = "all 200" if ok == requests else f"statuses {statuses}"
    return Row(f"emulator alone: bare {kind}, no limiter", requests, seconds, requests / seconds, note=note)


def fan_out(folder: Path, kind: str, fans: int, push_rate: float | None, *, bare: bool = False) -> Row:
    url = f"sqlite:///{folder / f'fanout-{kind}-{fans}-{bare}.db'}"
    prepare(url, fans)
    origin = time.time()
    emulator = Emulator(fans, LINE_PUSH_LIMIT, LINE_MULTICAST_LIMIT, bare=bare)
    try:
        drain = subprocess.Popen(
            [PYTHON, "-m", "bench.fanout_bench", "--child", "drain", url, emulator.url, str(origin)]
            + ([] if push_rate is None else ["--sender-rate", str(push_rate)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert drain.stdin is not None and drain.stdout is not None
        if drain.stdout.readline().strip() != "ready":
            raise RuntimeError("the sender did not start")
        job_out = subprocess.run(
            [PYTHON, "-m", "bench.fanout_bench", "--child", "job", url, "-", str(origin), "--mode", kind],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        job = json.loads(job_out.strip().splitlines()[-1])
        drain.stdin.write("go\n")
        drain.stdin.flush()
        sent = json.loads(drain.stdout.read().strip().splitlines()[-1])
        drain.stdin.close()
        drain.stdout.close()
        drain.wait(timeout=60)
        stats = emulator.stats()
    finally:
        emulator.close()
    path = "/v2/bot/message/push" if kind == "push" else "/v2/bot/message/multicast"
    limit = LINE_PUSH_LIMIT if kind == "push" else LINE_MULTICAST_LIMIT
    rejected = stats["requests"].get(f"{path} 429", 0)
    last = stats["last_accepted"] or sent["ended"]
    drain_seconds = last - sent["started"]
    per_fan = stats["sends_per_fan"]
    exactly_once = per_fan == {"1": fans}
    job_seconds = job["ended"] - job["started"]
    note = (
        f"job {job_seconds:.1f} s ({job['messages']:,} queued, job RSS {job['rss']:.0f} MB), "
        f"drain {drain_seconds:.1f} s; "
        + ("every fan exactly one message" if exactly_once else f"sends per fan {per_fan}")
    )
    return Row(
        case=f"fan-out {kind}, {fans:,} fans" + (", bare stand-in" if bare else ""),
        requests=sent["requests"],
        seconds=last - job["started"],
        rate=sent["requests"] / drain_seconds,
        limit=limit,
        rate_limited=rejected,
        rss_mb=sent["rss"],
        note=note,
        extra={"exactly_once": exactly_once, "sent": sent["sent"], "job": job, "drain": sent},
    )


def print_table(title: str, rows: list[Row]) -> None:
    print(title)
    print(
        f"{'case':<{CASE_WIDTH}} {'requests':>8} {'seconds':>8} {'req/s':>7} {'x alone':>7} "
        f"{'of limit':>8} {'429s':>5} {'RSS MB':>6}  note"
    )
    base = rows[0].rate
    for row in rows:
        share = f"{row.rate / row.limit:.1%}" if row.limit else "-"
        rss = f"{row.rss_mb:.0f}" if row.rss_mb is not None else "-"
        print(
            f"{row.case:<{CASE_WIDTH}} {row.requests:>8,} {row.seconds:>8.2f} {row.rate:>7.0f} "
            f"{row.rate / base:>7.2f} {share:>8} {row.rate_limited:>5} {rss:>6}  {row.note}"
        )


def load_line() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few hundred fans (smoke run)")
    parser.add_argument("--fans", default=None, help="comma-separated audience sizes (default 10000,100000)")
    parser.add_argument("--baseline", type=int, default=None, help="requests for the emulator-alone push run")
    parser.add_argument(
        "--sender-rate", type=float, default=None, help="the sender's push rate (default 1900)"
    )
    parser.add_argument("--child", nargs=3, metavar=("ROLE", "DATABASE", "EMULATOR"), help=argparse.SUPPRESS)
    parser.add_argument("origin", nargs="?", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="push", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        role, database_url, emulator_url = args.child
        if role == "job":
            child_job(database_url, args.origin, args.mode)
        else:
            child_drain(database_url, emulator_url, args.origin, args.sender_rate)
        return

    sizes_text = args.fans or os.environ.get(SIZES_ENV) or ("300" if args.quick else "10000,100000")
    sizes = [int(s.replace("_", "")) for s in sizes_text.split(",")]
    baseline = args.baseline or min(max(sizes), 300 if args.quick else 20_000)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"post-game fan-out through the LINE emulator ({load_line()} at start)")
    with tempfile.TemporaryDirectory(prefix="fanbot-fanout-") as tmp:
        folder = Path(tmp)
        rows = [emulator_alone("push", baseline, baseline)]
        rows += [fan_out(folder, "push", n, args.sender_rate) for n in sizes]
        rows += [fan_out(folder, "push", n, args.sender_rate, bare=True) for n in sizes]
        print_table("pushes with personalised coupon cards (emulator limit 2,000 requests/s)", rows)
        print()
        fans = max(sizes)
        multicasts = max(20, fans // 500)
        mrows = [
            emulator_alone("multicast", multicasts, fans),
            fan_out(folder, "multicast", fans, None),
            fan_out(folder, "multicast", fans, None, bare=True),
        ]
        print_table("one shared message as multicast, 500 fans a request (emulator limit 200/s)", mrows)
    print(f"({load_line()} at the end; seconds = job start to last message accepted)")


if __name__ == "__main__":
    main(sys.argv[1:])
