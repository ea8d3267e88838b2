from __future__ import annotations

import pytest

from bench.segmentation_bench import main


def test_quick_bench_prints_both_tables(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--quick"])
    out = capsys.readouterr().out
    assert "2,000x20" in out and "5,000x24" in out
    assert "GEMM rate" in out
    assert "logistic" in out and "correlation" in out
