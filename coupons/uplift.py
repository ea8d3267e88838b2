"""Uplift of a campaign: visit rate of targeted fans minus that of the holdout, with a 95% interval.

The interval for the difference of two independent proportions is Newcombe's hybrid score interval
(Newcombe 1998, "Interval estimation for the difference between independent proportions", method 10):
each rate gets its Wilson score interval ``(l, u)``, and with ``d = p1 - p2``

    lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)
    upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)

It keeps close to its nominal coverage for small groups and rates near 0 or 1, where the textbook
Wald interval ``d ± z·se`` is too narrow (and collapses to a point when a group has no visits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["METHOD_JA", "Uplift", "newcombe_interval", "uplift", "uplift_sentence", "wilson_interval"]

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
METHOD_JA = "Newcombe のハイブリッド・スコア法（Wilson のスコア区間の組み合わせ）"


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for ``successes / trials`` (``(nan, nan)`` when ``trials`` is 0)."""
    if trials <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials ({trials}), got {successes}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, z: float = Z_95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``x1/n1 - x2/n2``; NaNs when either group is empty."""
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan)
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


@dataclass(frozen=True)
class Uplift:
    """Visits among targeted fans and among the holdout, and the difference of their rates."""

    targeted_visitors: int
    targeted: int
    holdout_visitors: int
    holdout: int

    @property
    def targeted_rate(self) -> float:
        return self.targeted_visitors / self.targeted if self.targeted else math.nan

    @property
    def holdout_rate(self) -> float:
        return self.holdout_visitors / self.holdout if self.holdout else math.nan

    @property
    def difference(self) -> float:
        return self.targeted_rate - self.holdout_rate

    @property
    def interval(self) -> tuple[float, float]:
        return newcombe_interval(self.targeted_visitors, self.targeted, self.holdout_visitors, self.holdout)

    @property
    def shown(self) -> bool:
        """Whether the interval excludes zero, i.e. the coupons' effect is shown at the 95% level."""
        low, high = self.interval
        return not math.isnan(low) and (low > 0 or high < 0)


def uplift(targeted_visitors: int, targeted: int, holdout_visitors: int, holdout: int) -> Uplift:
    for name, visitors, group in (
        ("targeted", targeted_visitors, targeted),
        ("holdout", holdout_visitors, holdout),
    ):
        if group < 0 or not 0 <= visitors <= group:
            raise ValueError(f"{name}: visitors must be between 0 and the group size {group}, got {visitors}")
    return Uplift(targeted_visitors, targeted, holdout_visitors, holdout)


def _points(value: float) -> str:
    return f"{value * 100:+.1f}"


def uplift_sentence(result: Uplift) -> str:
    """The one plain Japanese sentence a partner reads."""
    if result.targeted == 0 or result.holdout == 0:
        missing = (
            "クーポンを受け取ったファン"
            if result.targeted == 0
            else "比較用に配信しなかったファン（ホールドアウト）"
        )
        return f"{missing}がまだいないため、来店率の差はまだ計算できません。"
    low, high = result.interval
    sentence = (
        f"クーポンを受け取ったファンの来店率は {result.targeted_rate * 100:.1f}%、"
        f"受け取らなかったファンは {result.holdout_rate * 100:.1f}%："
        f"差は {_points(result.difference)} ポイント（95%信頼区間 {_points(low)}〜{_points(high)}）"
    )
    if result.shown:
        return sentence
    return sentence + "。区間が 0 をまたいでいるため、クーポンの効果はまだ示されていません。"
