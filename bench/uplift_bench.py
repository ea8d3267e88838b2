"""Coverage of the uplift interval: on data with no effect, the 95% interval should cover zero ~95%.

Replicates campaigns where targeted fans and the holdout visit at the same rate, at sizes a real
partner campaign has, and counts how often Newcombe's interval covers the true difference (zero).
The Wald interval is printed beside it as the baseline that small groups break.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from coupons.uplift import Z_95, newcombe_interval

DESIGNS = ((40, 10, 0.05), (200, 50, 0.08), (1000, 250, 0.10), (3000, 300, 0.03))


def _wald(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    p1, p2 = x1 / n1, x2 / n2
    half = Z_95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return (p1 - p2 - half, p1 - p2 + half)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(argv or [])
    replicates = 200 if "--quick" in args else 4000
    rng = np.random.default_rng(95)
    print(
        f"uplift interval coverage with no effect ({replicates:,} replicate campaigns per design; target 95%)"
    )
    header = ("targeted", 9), ("holdout", 8), ("visit rate", 10), ("Newcombe", 9), ("(±se)", 7), ("Wald", 7)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'ratio':>6}")
    for targeted, holdout, rate in DESIGNS:
        covered = {"newcombe": 0, "wald": 0}
        for _ in range(replicates):
            x1, x2 = int(rng.binomial(targeted, rate)), int(rng.binomial(holdout, rate))
            for name, interval in (("newcombe", newcombe_interval), ("wald", _wald)):
                low, high = interval(x1, targeted, x2, holdout)
                covered[name] += low <= 0.0 <= high
        newcombe = covered["newcombe"] / replicates
        wald = covered["wald"] / replicates
        se = math.sqrt(newcombe * (1 - newcombe) / replicates)
        print(
            f"{targeted:>9,} {holdout:>8,} {rate:>10.0%} {newcombe:>9.1%} {se:>7.1%} {wald:>7.1%} "
            f"{newcombe / wald if wald else math.inf:>6.2f}"
        )
    print("ratio = Newcombe coverage / Wald coverage (the Wald interval is the textbook baseline)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
