"""Synthetic survey answers with planted correlations and missingness, for tests and benchmarks.

The world it simulates:

* items fall into latent groups; within a group answers share a standard-normal factor
  (``u = λ·z_group + √(1−λ²)·ε``), so items of one group correlate and items of different
  groups (and the ungrouped "noise" items) are independent: the true pairs are known exactly;
* yes/no items are ``u > τ`` (τ varies, so prevalences differ), count items are a rounded
  exponential of u;
* each item is skipped at random (MCAR) at its own rate around ``missing``;
* an optional binary target is driven by what the fan *answered*: its log-odds are
  ``b₀ + Σ wⱼ·mⱼ·(xⱼ − μⱼ)/σⱼ`` over a few predictor items (mⱼ = 1 if answered). That is the
  lookalike setting: a fan's answered items are all we (and the oracle) can know about them,
  and the returned true probabilities are the best any model could score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["PlantedStructure", "SyntheticSurvey", "make_survey"]


@dataclass(frozen=True)
class PlantedStructure:
    """What the generator planted.

    Attributes
    ----------
    groups : dict
        Item -> latent group number, or -1 for independent items (the target is not listed).
    target : str or None
        Name of the binary target column.
    target_weights : dict
        Predictor item -> weight on its standardised answer in the target's log-odds.
    loading : float
        λ, the factor loading of every grouped item.
    """

    groups: dict[str, int]
    target: str | None
    target_weights: dict[str, float]
    loading: float

    def is_true_pair(self, a: str, b: str) -> bool:
        """Whether items a and b have a non-zero population correlation."""
        if self.target is not None and self.target in (a, b):
            other = b if a == self.target else a
            driving = {self.groups[p] for p in self.target_weights}
            return other in self.target_weights or self.groups.get(other, -1) in driving - {-1}
        ga, gb = self.groups.get(a, -1), self.groups.get(b, -1)
        return ga >= 0 and ga == gb

    def true_pairs(self, pairs: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Vector of :meth:`is_true_pair` over a pairs table's ``item_a``/``item_b``."""
        return np.array(
            [self.is_true_pair(a, b) for a, b in zip(pairs["item_a"], pairs["item_b"], strict=True)],
            dtype=bool,
        )


@dataclass(frozen=True)
class SyntheticSurvey:
    """A generated survey: answers, the planted structure and the target's true probabilities."""

    frame: pd.DataFrame
    structure: PlantedStructure
    true_probability: pd.Series | None


def make_survey(
    n_fans: int = 2000,
    n_items: int = 40,
    *,
    items: Sequence[str] | None = None,
    n_groups: int = 4,
    group_size: int = 5,
    loading: float = 0.6,
    missing: float = 0.5,
    count_share: float = 0.0,
    target: str | None = None,
    target_weights: Sequence[float] = (1.2, 0.9, 0.7, -0.8, 0.6),
    target_missing: float = 0.5,
    seed: int = 0,
) -> SyntheticSurvey:
    """Generate survey answers with planted correlations and missingness.

    Parameters
    ----------
    n_fans : int
        Respondents (rows).
    n_items : int
        Items (columns) besides the target; ignored when ``items`` is given.
    items : sequence of str, optional
        Column names to use (e.g. catalog ids). If ``target`` is among them it becomes the
        target column; the rest are items. Default ``item_000``, ``item_001``, ...
    n_groups, group_size : int
        Latent groups of correlated items, assigned to randomly chosen items.
    loading : float
        Factor loading λ in (0, 1); items of one group have latent correlation λ².
    missing : float
        Mean share of unanswered cells; each item's rate is drawn within ±0.15 of it.
    count_share : float
        Share of items that are counts rather than yes/no.
    target : str, optional
        Name of a binary target column to add (see module docstring).
    target_weights : sequence of float
        Log-odds weights; the first half-or-more go to items of group 0, the rest to group 1.
    target_missing : float
        Share of fans who did not answer the target.
    seed : int
        Random seed; equal arguments give equal output.

    Returns
    -------
    SyntheticSurvey
        ``frame`` (float64, NaN = not answered, index ``fan_000001``...), the planted structure
        and, if there is a target, its true probabilities for every fan.
    """
    rng = np.random.default_rng(seed)
    names = list(items) if items is not None else [f"item_{i:03d}" for i in range(n_items)]
    item_names = [name for name in names if name != target]
    k = len(item_names)
    if n_groups * group_size > k:
        raise ValueError(f"{n_groups} groups of {group_size} need more than {k} items")

    group_of = np.full(k, -1)
    grouped = rng.permutation(k)[: n_groups * group_size]
    group_of[grouped] = np.repeat(np.arange(n_groups), group_size)

    factors = rng.standard_normal((n_fans, max(n_groups, 1)))
    latent = rng.standard_normal((n_fans, k))
    in_group = group_of >= 0
    latent[:, in_group] = (
        loading * factors[:, group_of[in_group]] + np.sqrt(1.0 - loading**2) * latent[:, in_group]
    )
    is_count = rng.random(k) < count_share
    thresholds = rng.uniform(-0.8, 0.8, k)
    full = np.where(
        is_count,
        np.floor(np.exp(1.0 + 0.6 * latent)),
        (latent > thresholds).astype(np.float64),
    )
    rates = np.clip(missing + rng.uniform(-0.15, 0.15, k), 0.0, 0.95)
    answered = rng.random((n_fans, k)) >= rates
    values = np.where(answered, full, np.nan)

    index = pd.Index([f"fan_{i:06d}" for i in range(1, n_fans + 1)], name="fan_id")
    frame = pd.DataFrame(values, columns=item_names, index=index)
    groups = {name: int(g) for name, g in zip(item_names, group_of, strict=True)}

    weights: dict[str, float] = {}
    probability: pd.Series | None = None
    if target is not None:
        per_group = [np.flatnonzero(group_of == g) for g in range(min(n_groups, 2))]
        first = (len(target_weights) + 1) // 2
        chosen = [*per_group[0][:first], *per_group[-1][: len(target_weights) - first]]
        logit = np.full(n_fans, -0.3)
        for col, w in zip(chosen, target_weights, strict=False):
            x = full[:, col]
            z = (x - x.mean()) / x.std()
            logit += w * np.where(answered[:, col], z, 0.0)
            weights[item_names[col]] = float(w)
        p = 1.0 / (1.0 + np.exp(-logit))
        y = (rng.random(n_fans) < p).astype(np.float64)
        y[rng.random(n_fans) < target_missing] = np.nan
        frame[target] = y
        order = names if target in names else [*names, target]
        frame = frame[order]
        probability = pd.Series(p, index=index, name=target)

    structure = PlantedStructure(groups=groups, target=target, target_weights=weights, loading=loading)
    return SyntheticSurvey(frame=frame, structure=structure, true_probability=probability)
