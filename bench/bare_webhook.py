"""The load benchmark's baseline: a Flask app that only verifies LINE's signature and answers 200.

Served by gunicorn exactly as `fanbot serve` serves fanbot (same workers, threads and worker class),
so the ratio isolates what fanbot's own acknowledgement costs.
"""

from __future__ import annotations

import os

from flask import Flask, request
from linebot.v3 import SignatureValidator

app = Flask(__name__)
_validator = SignatureValidator(os.environ.get("LINE_CHANNEL_SECRET", "bench-secret"))


@app.post("/callback")
def callback() -> tuple[str, int]:
    body = request.get_data(as_text=True)
    if not _validator.validate(body, request.headers.get("X-Line-Signature", "")):
        return "bad signature", 400
    return "OK", 200
