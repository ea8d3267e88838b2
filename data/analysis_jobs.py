"""Analysis jobs: a row per run of the correlation analysis, so progress survives a page reload.

Plain functions on a `Session`; each state change is a conditional UPDATE whose row count says
whether it happened. Only one job is queued or running at a time: ``active`` is 1 for that job and
its unique constraint refuses a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.models import AnalysisJob

# A running job whose worker has not reported for this long died with its process.
STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class AnalysisSummary:
    respondents: int
    items: int
    pairs: int
    significant: int


def request_analysis(session: Session, *, requested_by: str, now: datetime) -> AnalysisJob | None:
    """Queue a new job; None when one is already queued or running."""
    expire_stale_jobs(session, now)
    job = AnalysisJob(status="queued", active=1, stage="順番待ち", percent=0, requested_by=requested_by)
    job.created_at = now
    job.heartbeat_at = now
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        return None
    return job


def claim_job(session: Session, job_id: int, now: datetime) -> bool:
    result: CursorResult[Any] = cast(
        CursorResult[Any],
        session.execute(
            update(AnalysisJob)
            .where(AnalysisJob.id == job_id, AnalysisJob.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now)
        ),
    )
    return result.rowcount == 1


def report_progress(session: Session, job_id: int, stage: str, percent: int, now: datetime) -> None:
    session.execute(
        update(AnalysisJob)
        .where(AnalysisJob.id == job_id, AnalysisJob.status == "running")
        .values(stage=stage, percent=percent, heartbeat_at=now)
    )


def finish_job(session: Session, job_id: int, summary: AnalysisSummary, out_dir: str, now: datetime) -> bool:
    result: CursorResult[Any] = cast(
        CursorResult[Any],
        session.execute(
            update(AnalysisJob)
            .where(AnalysisJob.id == job_id, AnalysisJob.status == "running")
            .values(
                status="done",
                active=None,
                stage="完了",
                percent=100,
                finished_at=now,
                heartbeat_at=now,
                respondents=summary.respondents,
                items=summary.items,
                pairs=summary.pairs,
                significant=summary.significant,
                out_dir=out_dir,
            )
        ),
    )
    return result.rowcount == 1


def fail_job(session: Session, job_id: int, error: str, now: datetime) -> None:
    session.execute(
        update(AnalysisJob)
        .where(AnalysisJob.id == job_id, AnalysisJob.status.in_(("queued", "running")))
        .values(status="failed", active=None, error=error[:2000], finished_at=now, heartbeat_at=now)
    )


def expire_stale_jobs(session: Session, now: datetime) -> int:
    result: CursorResult[Any] = cast(
        CursorResult[Any],
        session.execute(
            update(AnalysisJob)
            .where(
                AnalysisJob.status.in_(("queued", "running")), AnalysisJob.heartbeat_at < now - STALE_AFTER
            )
            .values(
                status="failed",
                active=None,
                finished_at=now,
                error="分析が途中で止まりました（サーバーの再起動など）。もう一度実行してください。",
            )
        ),
    )
    return result.rowcount


def latest_job(session: Session) -> AnalysisJob | None:
    return session.scalars(select(AnalysisJob).order_by(AnalysisJob.id.desc()).limit(1)).one_or_none()


def latest_finished_job(session: Session) -> AnalysisJob | None:
    return session.scalars(
        select(AnalysisJob).where(AnalysisJob.status == "done").order_by(AnalysisJob.id.desc()).limit(1)
    ).one_or_none()
