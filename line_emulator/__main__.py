"""``python -m line_emulator``: the fake Messaging API and the chat page on their own.

Point a bot's Messaging API base URL at ``http://HOST:PORT`` and its webhook at
``--webhook-url``; open ``http://HOST:PORT/`` to play a fan.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from werkzeug.serving import run_simple

from line_emulator.app import create_emulator_app
from line_emulator.config import EmulatorConfig


def parse_config(argv: Sequence[str] | None = None) -> tuple[EmulatorConfig, str, int]:
    """The emulator's config, host and port from the command line (secrets default to the
    bot's own environment variables, so both sides agree without repeating them)."""
    parser = argparse.ArgumentParser(prog="python -m line_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:8000/callback", help="the bot's webhook")
    parser.add_argument("--channel-secret", default=os.environ.get("LINE_CHANNEL_SECRET", "emulator-secret"))
    parser.add_argument(
        "--channel-access-token", default=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", "emulator-token")
    )
    parser.add_argument(
        "--spec-dir", type=Path, default=None, help="line-openapi folder (default: the vendored copy)"
    )
    parser.add_argument(
        "--push-rate-limit", type=float, default=None, help="push requests per second (LINE: 2000)"
    )
    parser.add_argument(
        "--multicast-rate-limit", type=float, default=None, help="multicast requests per second (LINE: 200)"
    )
    parser.add_argument(
        "--monthly-quota",
        type=int,
        default=1000,
        help="messages a month (one per recipient); 0 means unlimited",
    )
    parser.add_argument(
        "--state", type=Path, default=None, help="JSON file keeping fans and chats across restarts"
    )
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        channel_secret=args.channel_secret,
        channel_access_token=args.channel_access_token,
        webhook_url=args.webhook_url,
        spec_dir=args.spec_dir,
        push_rate_limit_per_second=args.push_rate_limit,
        multicast_rate_limit_per_second=args.multicast_rate_limit,
        message_quota=args.monthly_quota or None,
        state_path=args.state,
    )
    return config, args.host, args.port


def main(argv: Sequence[str] | None = None) -> None:
    config, host, port = parse_config(argv)
    app = create_emulator_app(config)
    base = f"http://{host}:{port}"
    print(f"LINE emulator at {base}/   (play a fan here)", file=sys.stderr)
    print(f"  Messaging API base URL: {base}   webhook target: {config.webhook_url}", file=sys.stderr)
    run_simple(host, port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
