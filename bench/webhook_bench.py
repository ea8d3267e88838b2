"""Webhook latency: a signed event handled end to end against LINE's 2-second budget.

Each event is verified, parsed, handled in its own transaction on SQLite, and
answered through the local emulator over real HTTP, exactly as in production
except for the network distance to LINE. The baseline is ``GET /healthz`` (one
database round trip through the same app), run side by side.

Run: ``.venv/bin/python -m bench.webhook_bench [--quick]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.app import create_app
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

            def follow() -> None:
                user = state.create_user("bench").user_id
                state.set_following(user, True)
                post(events.follow_event(user, reply_token=state.issue_reply_token(user, time.time())))

            def help_text() -> None:
                user = state.create_user("bench").user_id
                state.set_following(user, True)
                post(
                    events.text_message_event(
                        user, "こんにちは", reply_token=state.issue_reply_token(user, time.time())
                    )
                )

            def health() -> None:
                assert client.get("/healthz").status_code == 200

            cases: list[tuple[str, Callable[[], None]]] = [
                ("healthz (baseline)", health),
                ("follow + reply", follow),
                ("text + reply", help_text),
            ]
            samples: dict[str, list[float]] = {name: [] for name, _ in cases}
            for _ in range(rounds):
                for name, fn in cases:  # interleaved, so drift hits every case alike
                    start = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - start)
            app.extensions["fanbot.line_client"].close()
            app.extensions["fanbot.db"].dispose()

    base = statistics.median(samples["healthz (baseline)"])
    print(f"webhook latency on SQLite with replies through the emulator ({rounds} events per case)")
    print(f"{'case':>20} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11} {'share of 2 s':>13}")
    for name, values in samples.items():
        median = statistics.median(values)
        p95 = _percentile(values, 0.95)
        print(
            f"{name:>20} {median * 1000:10.2f} {p95 * 1000:8.2f} {median / base:11.1f} "
            f"{p95 / LINE_BUDGET_SECONDS:12.1%}"
        )


if __name__ == "__main__":
    main()
