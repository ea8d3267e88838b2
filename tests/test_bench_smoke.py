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
