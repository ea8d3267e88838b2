"""The import-and-analyse benchmark runs end to end at a tiny size and its loaders agree."""

from __future__ import annotations

import pytest

from bench import analysis_bench


def test_quick_run_prints_every_stage_with_its_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    analysis_bench.main(["--respondents", "300", "--postgres", ""])
    out = capsys.readouterr().out
    for label in (
        "fanbot import-answers",
        "read_sql + pivot (baseline)",
        "driver tuples (floor)",
        "answers_frame (ours)",
        "fanbot analyze --from-database",
    ):
        assert label in out
    # The baseline row is the unit of the ratio column (the last but one; the load average ends a row).
    baseline = next(line for line in out.splitlines() if "baseline)" in line)
    assert baseline.split()[-2] == "1.00"
