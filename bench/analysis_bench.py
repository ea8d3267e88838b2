"""Benchmark of the marketer's path: import a survey file, then analyse from the database.

Run: ``.venv/bin/python -m bench.analysis_bench [--quick] [--respondents N] [--postgres URL]``.

A catalog-shaped survey (185 items, about half answered, from the demo generator) is
written to CSV, imported with the ``fanbot import-answers`` command, and analysed with the
``fanbot analyze --from-database`` command (load, correlate, figures, report), each timed
whole, imports of the libraries included. Each stage runs in a fresh child process, which
reports its wall time, its CPU time (user + system of the child only: a database server's
work is not in it) and its peak resident memory (``ru_maxrss``), so stages do not share
caches or heap. The baseline, run in the same table, is the obvious pandas path:
``pandas.read_sql`` of the answers joined to the consent filter, then ``pivot``; beside it,
the bare driver fetching the answers as tuples (the floor of any row-by-row reader) and our
loader alone. The machine's load average is printed with each engine: on a shared machine
wall times stretch with it, CPU times much less.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

STAGES = ("import", "load-baseline", "driver-fetch", "load", "analyze")


def write_survey_csv(path: Path, respondents: int) -> int:
    """Write the survey file; return the number of answers in it."""
    import numpy as np
    import pandas as pd

    from data.catalog import load_catalog
    from data.demo import demo_answers

    catalog = load_catalog()
    columns, answered, _ = demo_answers(catalog, respondents, seed=7)
    frame = pd.DataFrame({item.id: columns[item.id] for item in catalog.items})
    frame = frame.mask(~answered).astype("Int64")
    frame.insert(0, "id", [f"r{i:06d}" for i in range(respondents)])
    frame.to_csv(path, index=False)
    return int(np.count_nonzero(answered))


def _stage(name: str, url: str, csv_path: Path, out: Path) -> dict[str, float]:
    """Run one stage in this (child) process; return its time and size facts."""
    from sqlalchemy.orm import Session

    from bot.settings import Settings
    from data.answer_frame import answers_frame
    from data.catalog import load_catalog
    from data.database import make_engine

    facts: dict[str, float] = {}
    if name in ("import", "analyze"):
        return _command_stage(name, url, csv_path, out)
    catalog = load_catalog()
    version = Settings(line_channel_secret="bench", line_channel_access_token="bench").consent_version
    engine = make_engine(url)
    start, cpu = time.perf_counter(), _usage()["cpu"]
    with Session(engine) as session:
        if name == "driver-fetch":
            connection = session.connection()
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not None
            named = {"name": "bench_fetch"} if connection.dialect.name == "postgresql" else {}
            cursor = dbapi.cursor(**named)
            cursor.execute("SELECT fan_id, item_id, value FROM answers")
            rows = 0
            while chunk := cursor.fetchmany(500_000):
                rows += len(chunk)
            cursor.close()
            facts["cells"] = rows
        elif name == "load-baseline":
            import pandas as pd
            from sqlalchemy import select

            from data.consent import analysable_clause
            from data.models import Answer, Fan

            query = (
                select(Answer.fan_id, Answer.item_id, Answer.value)
                .join(Fan, Fan.id == Answer.fan_id)
                .where(analysable_clause(version))
            )
            long = pd.read_sql(query, session.connection())
            wide = long.pivot(index="fan_id", columns="item_id", values="value")
            facts["cells"] = int(wide.notna().to_numpy().sum())
        elif name == "load":
            wide = answers_frame(session, catalog, version)
            facts["cells"] = int(wide.notna().to_numpy().sum())
    facts["seconds"] = time.perf_counter() - start
    facts.update(_usage())
    facts["cpu"] -= cpu  # the stage's own work, like its seconds
    engine.dispose()
    return facts


def _command_stage(name: str, url: str, csv_path: Path, out: Path) -> dict[str, float]:
    """Run the fanbot command itself, as a marketer would, timed from before its imports."""
    start = time.perf_counter()
    os.environ.update(
        {"DATABASE_URL": url, "LINE_CHANNEL_SECRET": "bench", "LINE_CHANNEL_ACCESS_TOKEN": "bench"}
    )
    from bot.cli import main as fanbot

    if name == "import":
        argv = ["import-answers", str(csv_path)]
    else:
        argv = ["analyze", "--from-database", "--out", str(out), "--no-progress"]
    with contextlib.redirect_stdout(io.StringIO()) as said:
        try:
            fanbot(argv)
        except SystemExit as exit_:
            assert not exit_.code, (exit_.code, said.getvalue()[-2000:])
    facts = {"seconds": time.perf_counter() - start, **_usage()}
    if name == "import":
        stored = re.search(r"保存した回答:\s*(\d+)", said.getvalue())
        assert stored is not None, said.getvalue()[-2000:]
        facts["answers"] = float(stored.group(1))
    return facts


def _usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": usage.ru_utime + usage.ru_stime, "peak_mb": _peak_mb(usage.ru_maxrss / 1024)}


def _peak_mb(maxrss_mb: float) -> float:
    """This process's own peak resident memory.

    Linux carries ``ru_maxrss`` across ``exec``, so a child would report at least the
    parent's peak at the fork (the survey generator's ~700 MB at 100,000 respondents);
    ``VmHWM`` belongs to the process's own address space.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return maxrss_mb
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else maxrss_mb


def _run_child(stage: str, url: str, csv_path: Path, out: Path) -> dict[str, float]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.analysis_bench",
            "--child",
            stage,
            "--url",
            url,
            "--csv",
            str(csv_path),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _fresh_database(
    engine_name: str, work: Path, postgres_url: str | None
) -> tuple[str, tuple[Engine, str] | None]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from data.database import make_engine, normalize_url
    from data.migrate import upgrade

    if engine_name == "sqlite":
        url = f"sqlite:///{work / 'bench.db'}"
        cleanup: tuple[Engine, str] | None = None
    else:
        assert postgres_url is not None
        name = f"fanbot_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalize_url(postgres_url)).set(database=name).render_as_string(hide_password=False)
        cleanup = (admin, name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url, cleanup


def _drop(cleanup: tuple[Engine, str] | None) -> None:
    from sqlalchemy import text

    if cleanup is None:
        return
    admin, name = cleanup
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 respondents (smoke run)")
    parser.add_argument("--respondents", type=int, default=None)
    parser.add_argument("--postgres", default=os.environ.get("FANBOT_TEST_POSTGRES_URL"))
    parser.add_argument("--child", choices=STAGES)
    parser.add_argument("--url")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_stage(args.child, args.url, args.csv, args.out)))
        return
    respondents = args.respondents or (2_000 if args.quick else 100_000)
    engines = ["sqlite"] + (["postgresql"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "survey.csv"
        answers = write_survey_csv(csv_path, respondents)
        print(
            f"import and analysis from the database: {respondents:,} respondents × 185 items, "
            f"{answers:,} answers ({csv_path.stat().st_size / 2**20:.0f} MB CSV); "
            "each stage in a fresh process"
        )
        print(
            f"{'engine':>10} {'stage':>30} {'seconds':>8} {'CPU s':>7} {'peak MB':>8} "
            f"{'÷ baseline':>11} {'load':>5}"
        )
        for engine_name in engines:
            url, cleanup = _fresh_database(engine_name, work, args.postgres)
            try:
                results = {}
                for stage in STAGES:
                    load = os.getloadavg()[0]
                    results[stage] = {
                        **_run_child(stage, url, csv_path, work / f"out-{engine_name}"),
                        "load": load,
                    }
            finally:
                _drop(cleanup)
            base = results["load-baseline"]
            rows = [
                ("fanbot import-answers", results["import"], None),
                ("read_sql + pivot (baseline)", base, base),
                ("driver tuples (floor)", results["driver-fetch"], base),
                ("answers_frame (ours)", results["load"], base),
                ("fanbot analyze --from-database", results["analyze"], base),
            ]
            for label, facts, against in rows:
                ratio = f"{facts['seconds'] / against['seconds']:.2f}" if against is not None else "—"
                seconds, cpu, peak, load = facts["seconds"], facts["cpu"], facts["peak_mb"], facts["load"]
                print(
                    f"{engine_name:>10} {label:>30} {seconds:8.2f} {cpu:7.2f} {peak:8.0f} "
                    f"{ratio:>11} {load:5.1f}"
                )
            assert results["import"]["answers"] == answers, "the import stored another number of answers"
            cells = (results["load"]["cells"], base["cells"], results["driver-fetch"]["cells"])
            assert cells == (answers,) * 3, "loaders disagree on the answers"


if __name__ == "__main__":
    main()
