"""Webhook latency: a signed event acknowledged, and handled end to end, against LINE's 2-second budget.

"ack" is what LINE waits for: the event verified, checked and recorded in the inbox on SQLite.
"ack + reply" adds the inbox worker's part (`bot.inbox.drain`): handled in its own transaction
and answered through the local emulator over real HTTP. The baseline is ``GET /healthz`` (one
database round trip through the same app), run side by side. Sequential, one client: the
multi-client game-night load is `bench.load_bench`.

Run: ``.venv/bin/python -m bench.webhook_bench [--quick]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.app import create_app
from bot.inbox import drain
from bot.settings import Settings
from data.database import make_engine
from data.migrate import upgrade
from line_emulator import EmulatorConfig, create_emulator_app, events
from line_emulator.server import EmulatorServer

SECRET = "bench-secret"
TOKEN = "bench-token"
LINE_BUDGET_SECONDS = 2.0


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few events only (smoke run)")
    args = parser.parse_args(argv)
    rounds = 20 if args.quick else 300
    # The emulator's access log would drown the table.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        emulator_app = create_emulator_app(
            EmulatorConfig(
                channel_secret=SECRET, channel_access_token=TOKEN, webhook_url="http://127.0.0.1:9/"
            )
        )
        state = emulator_app.extensions["line_emulator"]
        with EmulatorServer(emulator_app) as server:
            settings = Settings(
                line_channel_secret=SECRET,
                line_channel_access_token=TOKEN,
                database_url=url,
                line_api_base_url=server.base_url,
                testing=True,
            )
            app = create_app(settings)
            client = app.test_client()

            def post(event: dict[str, object]) -> None:
                body = events.serialize(events.callback_body([event], "U" + "0f" * 16))
                response = client.post(
                    "/callback", data=body, headers={"X-Line-Signature": events.sign(body, SECRET)}
                )
                assert response.status_code == 200, response.status_code

            def follow(handle: bool) -> None:
                user = state.create_user("bench").user_id
                state.set_following(user, True)
                post(events.follow_event(user, reply_token=state.issue_reply_token(user, time.time())))
                if handle:
                    drain(app)

            def help_text() -> None:
                user = state.create_user("bench").user_id
                state.set_following(user, True)
                post(
                    events.text_message_event(
                        user, "こんにちは", reply_token=state.issue_reply_token(user, time.time())
                    )
                )
                drain(app)

            def health() -> None:
                assert client.get("/healthz").status_code == 200

            cases: list[tuple[str, Callable[[], None]]] = [
                (BASELINE, health),
                ("follow: ack", lambda: follow(False)),
                ("follow: ack + reply", lambda: follow(True)),
                ("text: ack + reply", help_text),
            ]
            samples: dict[str, list[float]] = {name: [] for name, _ in cases}
            for _ in range(rounds):
                for name, fn in cases:  # interleaved, so drift hits every case alike
                    start = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - start)
                    drain(app)  # untimed: what an "ack" case left for the workers
            app.extensions["fanbot.line_client"].close()
            app.extensions["fanbot.db"].dispose()

    print(f"webhook latency on SQLite, one client, replies through the emulator ({rounds} events per case)")
    print(f"{'case':>20} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11} {'share of 2 s':>13}")
    for row in table(samples, BASELINE):
        print(
            f"{row.case:>20} {row.median_ms:10.2f} {row.p95_ms:8.2f} {row.ratio:11.1f} "
            f"{row.share_of_budget:12.1%}"
        )


BASELINE = "healthz (baseline)"


@dataclass(frozen=True)
class Row:
    case: str
    median_ms: float
    p95_ms: float
    ratio: float  # median / the baseline's median
    share_of_budget: float  # p95 / LINE's 2 s


def table(samples: dict[str, list[float]], baseline: str) -> list[Row]:
    """One row per case, in the order given; times in seconds in, milliseconds out."""
    base = statistics.median(samples[baseline])
    return [
        Row(
            case=name,
            median_ms=statistics.median(values) * 1000,
            p95_ms=_percentile(values, 0.95) * 1000,
            ratio=statistics.median(values) / base,
            share_of_budget=_percentile(values, 0.95) / LINE_BUDGET_SECONDS,
        )
        for name, values in samples.items()
    ]


if __name__ == "__main__":
    main()
