"""Benjamini–Hochberg false discovery rate control for the correlation table."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import false_discovery_control

__all__ = ["bh_qvalues"]


def bh_qvalues(p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Benjamini–Hochberg adjusted p-values (q-values).

    Parameters
    ----------
    p : array_like
        Two-sided p-values. NaN entries (pairs without a p-value) are skipped:
        they do not count towards the number of tests and stay NaN.

    Returns
    -------
    numpy.ndarray
        q-values, same shape as ``p``. Rejecting every pair with ``q < alpha``
        keeps the expected share of false discoveries at or below ``alpha``.
    """
    values = np.asarray(p, dtype=np.float64)
    q = np.full(values.shape, np.nan)
    has_p = ~np.isnan(values)
    if has_p.any():
        # Clip guards against p-values a hair outside [0, 1] from rounding; scipy rejects those.
        q[has_p] = false_discovery_control(np.clip(values[has_p], 0.0, 1.0), method="bh")
    return q
