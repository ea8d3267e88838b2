from __future__ import annotations

import pytest

from bench import webhook_bench
from bench.webhook_bench import BASELINE, table


def test_webhook_bench_prints_every_case_against_the_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    webhook_bench.main(["--quick"])
    out = capsys.readouterr().out
    cases = ("healthz", "follow", "text")
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(cases)]
    # name..., median ms, p95 ms, x baseline, share of 2 s
    assert [" ".join(row[:-4]) for row in rows] == [
        BASELINE,
        "follow: ack",
        "follow: ack + reply",
        "text: ack + reply",
    ], out
    # Every printed ratio is that row's printed median over the baseline's (to the print's rounding).
    base_median = float(rows[0][-4])
    for row in rows:
        median, ratio = float(row[-4]), float(row[-2])
        assert ratio == pytest.approx(median / base_median, rel=0.05, abs=0.06), row


def test_ratios_medians_and_budget_shares_follow_the_samples() -> None:
    # Hand-computed: medians 2 ms and 5 ms; p95 of 20 samples is the 20th (index 19) value.
    samples = {
        BASELINE: [0.001] * 10 + [0.003] * 10,
        "slow": [0.004] * 10 + [0.006] * 9 + [0.4],
    }

    rows = table(samples, BASELINE)

    assert [row.case for row in rows] == [BASELINE, "slow"]
    assert rows[0].ratio == pytest.approx(1.0)
    assert rows[1].median_ms == pytest.approx(5.0)
    assert rows[1].ratio == pytest.approx(2.5)
    assert rows[1].p95_ms == pytest.approx(400.0)
    assert rows[1].share_of_budget == pytest.approx(0.2)


def test_uplift_bench_prints_coverage_per_design(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import uplift_bench

    uplift_bench.main(["--quick"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.strip() and line.strip()[0].isdigit()]
    assert len(rows) == len(uplift_bench.DESIGNS)
    for row in rows:
        coverage = float(row.split()[3].rstrip("%"))
        assert 85.0 <= coverage <= 100.0, row


def test_coupon_bench_issues_unique_codes_and_redeems_through_the_counter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import coupon_bench

    coupon_bench.main(["--quick"])
    out = capsys.readouterr().out
    assert "all codes unique" in out and "REPEATED" not in out
    issue = next(line for line in out.splitlines() if line.startswith("issue_campaign:"))
    assert "2,000 eligible" in issue
    eligible_issued_holdout = [int(word.replace(",", "")) for word in issue.split(":")[1].split()[::2][:3]]
    eligible, issued, holdout = eligible_issued_holdout
    assert issued + holdout == eligible
    redeem = next(line for line in out.splitlines() if line.startswith("POST /partner/redeem"))
    assert "200 fans thanked" in redeem


def test_load_bench_posts_signed_events_to_fanbot_serve_and_the_bare_app(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import load_bench

    load_bench.main(["--quick", "--levels", "2", "--seconds", "0.7"])
    out = capsys.readouterr().out
    (row,) = [line.split() for line in out.splitlines() if line.startswith("sqlite")]
    engine, clients, rate, p50, p95, p99, reply50, reply99, errors, bare_rate, _, ratio = row
    assert (engine, clients) == ("sqlite", "2")
    assert float(rate) > 0 and float(bare_rate) > 0
    assert float(p50) <= float(p95) <= float(p99)
    assert 0 < float(reply50) <= float(reply99) < load_bench.REPLY_BUDGET
    # Every event was acknowledged and got its reply: the mix follows the conversation.
    assert errors == "0", out
    assert float(ratio) == pytest.approx(float(rate) / float(bare_rate), abs=0.02)


def test_fanout_bench_sends_every_fan_one_message_and_prints_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import fanout_bench

    fanout_bench.main(["--quick", "--fans", "120", "--baseline", "60"])
    out = capsys.readouterr().out
    width = fanout_bench.CASE_WIDTH
    tables = [
        [
            (line[:width].strip(), line[width:].split())
            for line in block.splitlines()
            if line.startswith(("emulator alone", "fan-out"))
        ]
        for block in out.split("\n\n")
    ]
    assert [[case for case, _ in table] for table in tables] == [
        [
            "emulator alone: bare push, no limiter",
            "fan-out push, 120 fans",
            "fan-out push, 120 fans, bare stand-in",
        ],
        [
            "emulator alone: bare multicast, no limiter",
            "fan-out multicast, 120 fans",
            "fan-out multicast, 120 fans, bare stand-in",
        ],
    ], out
    for printed in tables:
        base_rate = float(printed[0][1][2])
        for case, (requests, _seconds, rate, ratio, share, rejected, *note) in printed:
            assert int(requests.replace(",", "")) > 0, case
            # Each ratio is its row's rate over the emulator-alone rate printed above it.
            assert float(ratio) == pytest.approx(float(rate) / base_rate, rel=0.05, abs=0.02), case
            assert rejected == "0", case
            if case.startswith("fan-out"):
                assert share.endswith("%"), case
                # Through the emulator and the bare stand-in alike: no fan missed, none twice.
                assert "120 queued" in " ".join(note) and "every fan exactly one message" in " ".join(note)
