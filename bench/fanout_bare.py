"""A bare stand-in for LINE's sending APIs, for `bench.fanout_bench`: what the sender reaches when
the other end costs next to nothing.

``python -m bench.fanout_bare`` serves, on a free port with aiohttp, push and multicast (bearer
token, JSON body, LINE's rate limits as a token bucket of one second's worth, 429 beyond them,
409 for a retry key seen before) and the quota reads (unlimited), and prints ``ready <base url>``.
No contract validation and no chat log: the emulator does those. ``GET /bench/stats`` answers in
the shape of `bench.fanout_emulator`'s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from typing import Any

from aiohttp import web

from bench.fanout_emulator import TOKEN

LIMITS = {"/v2/bot/message/push": 2000.0, "/v2/bot/message/multicast": 200.0}


class Bare:
    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.accepted_keys: set[str] = set()
        self.sends: Counter[str] = Counter()  # fan -> accepted sends
        self.first: float | None = None
        self.last: float | None = None
        self.buckets = {path: [rate, time.monotonic()] for path, rate in LIMITS.items()}

    def _token(self, path: str) -> bool:
        tokens, updated = self.buckets[path]
        now = time.monotonic()
        tokens = min(LIMITS[path], tokens + (now - updated) * LIMITS[path])
        if tokens < 1:
            self.buckets[path] = [tokens, now]
            return False
        self.buckets[path] = [tokens - 1, now]
        return True

    async def send(self, request: web.Request) -> web.Response:
        path = request.path
        status, body = self._answer(request, path, await request.read())
        self.statuses[f"{path} {status}"] += 1
        return web.json_response(body, status=status, headers={"x-line-request-id": str(uuid.uuid4())})

    def _answer(self, request: web.Request, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Authentication failed."}
        body = json.loads(raw)
        if not self._token(path):
            return 429, {"message": "The API rate limit has been exceeded. Try again later."}
        key = request.headers.get("X-Line-Retry-Key", "")
        if key in self.accepted_keys:
            return 409, {"message": "The retry key is already accepted"}
        self.accepted_keys.add(key)
        for fan in [body["to"]] if isinstance(body["to"], str) else body["to"]:
            self.sends[fan] += 1
        now = time.time()
        self.first = self.first or now
        self.last = now
        return 200, ({"sentMessages": [{"id": "1"}]} if path.endswith("/push") else {})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": dict(self.statuses),
                "first_accepted": self.first,
                "last_accepted": self.last,
                "sends_per_fan": {str(k): v for k, v in sorted(Counter(self.sends.values()).items())},
                "violations": 0,
            }
        )


async def serve() -> None:
    bare = Bare()
    app = web.Application()
    app.router.add_post("/v2/bot/message/push", bare.send)
    app.router.add_post("/v2/bot/message/multicast", bare.send)
    app.router.add_get("/v2/bot/message/quota", lambda _: _json({"type": "none"}))
    app.router.add_get("/v2/bot/message/quota/consumption", lambda _: _json({"totalUsage": 0}))
    app.router.add_get("/bench/stats", bare.stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"ready http://127.0.0.1:{port}", flush=True)
    # Serve until the benchmark closes our standard input.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


async def _json(body: dict[str, Any]) -> web.Response:
    return web.json_response(body)


if __name__ == "__main__":
    asyncio.run(serve())
