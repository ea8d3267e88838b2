"""The LINE emulator in a process of its own, for `bench.fanout_bench`.

``python -m bench.fanout_emulator --users N [--push-rate R] [--multicast-rate R]`` creates N
following fans (``U%032x`` of 0..N-1, the ids the benchmark gives its fans), serves the emulator
on a free port with the same threaded werkzeug server as ``python -m line_emulator``, and prints
``ready <base url>`` on its own line. ``GET /bench/stats`` (added for the benchmark, outside the
emulator's API) says what it answered and delivered: requests by path and status, when the first
and the last send were accepted, and how many fans got exactly one send.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from typing import Any

from flask import jsonify

from line_emulator import EmulatorConfig, create_emulator_app
from line_emulator.server import EmulatorServer
from line_emulator.state import EmulatorState

TOKEN = "bench-token"
SENDS = ("/v2/bot/message/push", "/v2/bot/message/multicast")


def user_id(number: int) -> str:
    return f"U{number:032x}"


def stats(state: EmulatorState) -> dict[str, Any]:
    with state.lock:
        records = list(state.requests)
        conversations = {user: list(entries) for user, entries in state.conversations.items()}
    by_status: Counter[str] = Counter(f"{r.path} {r.status}" for r in records)
    accepted = [r.received_at for r in records if r.path in SENDS and r.status == 200]
    sends_per_fan = Counter(
        len({e.request_id for e in entries if e.direction == "bot"}) for entries in conversations.values()
    )
    return {
        "requests": dict(by_status),
        "first_accepted": min(accepted) if accepted else None,
        "last_accepted": max(accepted) if accepted else None,
        # How many fans got 0, 1, 2... accepted sends (a push or a multicast reaching them).
        "sends_per_fan": {str(k): v for k, v in sorted(sends_per_fan.items())},
        "violations": len(state.violations),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--push-rate", type=float, default=None)
    parser.add_argument("--multicast-rate", type=float, default=None)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_emulator_app(
        EmulatorConfig(
            channel_secret="bench-secret",
            channel_access_token=TOKEN,
            webhook_url="http://127.0.0.1:9/",
            push_rate_limit_per_second=args.push_rate,
            multicast_rate_limit_per_second=args.multicast_rate,
            message_quota=None,
        )
    )
    state: EmulatorState = app.extensions["line_emulator"]
    for number in range(args.users):
        state.create_user(f"ファン{number}", user_id=user_id(number))
        state.set_following(user_id(number), True)
    app.add_url_rule("/bench/stats", "bench_stats", lambda: jsonify(stats(state)))
    with EmulatorServer(app) as server:
        print(f"ready {server.base_url}", flush=True)
        # Serve until the benchmark closes our standard input.
        sys.stdin.read()
    app.extensions["line_emulator_sender"].close()


if __name__ == "__main__":
    main()
