from __future__ import annotations

import pytest

from bench import webhook_bench


def test_webhook_bench_prints_every_case_against_the_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    webhook_bench.main(["--quick"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "ms" not in line and line.strip()]
    for case in ("healthz (baseline)", "follow + reply", "text + reply"):
        assert any(line.strip().startswith(case) for line in lines), out
    baseline = next(line for line in lines if "healthz" in line)
    assert baseline.split()[-2] == "1.0"  # the baseline is its own unit


def test_uplift_bench_prints_coverage_per_design(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import uplift_bench

    uplift_bench.main(["--quick"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.strip() and line.strip()[0].isdigit()]
    assert len(rows) == len(uplift_bench.DESIGNS)
    for row in rows:
        coverage = float(row.split()[3].rstrip("%"))
        assert 85.0 <= coverage <= 100.0, row
