"""Prometheus metrics: every metric object of the product, and the ``/metrics`` endpoint.

Counters live per process (gunicorn workers each keep their own; scrape each process, or
sum them in Prometheus). Inbox depth is read from the database at scrape time, so it is
the same whichever process answers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from bot.db import get_database
from data.models import WebhookEvent

bp = Blueprint("metrics", __name__)

WEBHOOK_LATENCY = Histogram(
    "fanbot_webhook_ack_seconds",
    "Time from receiving a webhook request to answering it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
WEBHOOK_EVENTS = Counter(
    "fanbot_webhook_events_total",
    "Webhook events by type and outcome (recorded, duplicate, skipped, handled, failed)",
    ["type", "outcome"],
)
EVENT_HANDLING = Histogram(
    "fanbot_event_handling_seconds", "Time a worker spends handling one recorded event, reply included"
)
SENDS = Counter("fanbot_sends_total", "Messages sent to LINE by kind and outcome", ["kind", "outcome"])
REDEMPTIONS = Counter("fanbot_redemptions_total", "Coupon redemption attempts by outcome", ["outcome"])
INBOX_DEPTH = Gauge("fanbot_inbox_events", "Recorded webhook events by status", ["status"])

_event_log = logging.getLogger("fanbot.events")


def log_event(log_name: str, **fields: Any) -> None:
    """One structured (JSON) log line; callers pass ids, types, outcomes and times, never personal data."""
    _event_log.info(json.dumps({"log": log_name, **fields}, ensure_ascii=False, sort_keys=True))


@bp.get("/metrics")
def metrics() -> Response:
    with get_database().sessions() as session:
        rows = session.execute(select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status))
        counts: dict[str, int] = {str(status): int(number) for status, number in rows}
    for status in ("pending", "failed"):
        INBOX_DEPTH.labels(status=status).set(int(counts.get(status, 0)))
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
