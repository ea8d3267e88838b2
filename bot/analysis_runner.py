"""Running the correlation analysis off the request path: a thread per job, progress in the job row.

`run_analysis_job` is a plain function (one bounded unit of work, its own short transactions), so the
scheduler or a CLI command can run a queued job as well as the thread the admin page starts.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask

from bot.app_context import Clock
from bot.db import Database
from data.analysis_jobs import AnalysisSummary, claim_job, fail_job, finish_job, report_progress
from data.answer_frame import answers_frame
from data.catalog import Catalog

log = logging.getLogger(__name__)

THREAD_EXTENSION = "fanbot.analysis_thread"


def job_dir(root: Path, job_id: int) -> Path:
    return root / f"job-{job_id}"


def run_analysis_job(
    database: Database, job_id: int, *, catalog: Catalog, consent_version: str, root: Path, clock: Clock
) -> bool:
    """Run one queued job to the end; False when another worker had already claimed it."""
    from segmentation import analyze_frame

    with database.transaction() as session:
        if not claim_job(session, job_id, clock()):
            return False
        report_progress(session, job_id, "回答を読み込んでいます", 5, clock())
    try:
        with database.transaction() as session:
            frame = answers_frame(session, catalog, consent_version)
        if len(frame) < 3:
            raise ValueError(f"回答者が {len(frame)} 人しかいません。分析には3人以上の回答が必要です。")
        with database.transaction() as session:
            report_progress(
                session,
                job_id,
                f"{len(frame):,}人 × {frame.shape[1]}項目の相関と図を計算しています",
                30,
                clock(),
            )
        out = job_dir(root, job_id).resolve()  # send_file reads relative paths from the package
        result = analyze_frame(frame, out, catalog=catalog)
        with database.transaction() as session:
            finish_job(
                session,
                job_id,
                AnalysisSummary(
                    respondents=result.respondents,
                    items=result.items,
                    pairs=len(result.pairs),
                    significant=result.significant,
                ),
                str(out),
                clock(),
            )
    except Exception as error:
        log.exception("analysis job %s failed", job_id)
        message = str(error) if str(error) and not str(error).isascii() else "分析中にエラーが起きました。"
        with database.transaction() as session:
            fail_job(session, job_id, message, clock())
    return True


def start_analysis_thread(app: Flask, job_id: int, *, root: Path) -> threading.Thread:
    settings = app.extensions["fanbot.settings"]
    thread = threading.Thread(
        target=run_analysis_job,
        args=(app.extensions["fanbot.db"], job_id),
        kwargs={
            "catalog": app.extensions["fanbot.catalog"],
            "consent_version": settings.consent_version,
            "root": root,
            "clock": app.extensions["fanbot.clock"],
        },
        name=f"analysis-job-{job_id}",
        daemon=True,
    )
    app.extensions[THREAD_EXTENSION] = thread
    thread.start()
    return thread
