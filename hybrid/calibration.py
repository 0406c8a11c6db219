"""Threshold calibration from win rates alone: no labels, no model calls."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hybrid.errors import InputError

__all__ = ["threshold_for_strong_share"]


def threshold_for_strong_share(win_rates: Sequence[float] | np.ndarray, share: float) -> float:
    """Return the threshold that sends `share` of these prompts to the strong model.

    With `k = round(share * n)`, the threshold is the k-th highest win rate, so
    `win_rate >= threshold` holds for k prompts when no scores tie (ties at the
    threshold all go strong). A share of 0 returns a value above every score.
    """
    rates = np.asarray(win_rates, dtype=float)
    if rates.size == 0:
        raise InputError("cannot calibrate a threshold on zero prompts; pass at least one win rate")
    if not 0.0 <= share <= 1.0:
        raise InputError(f"strong-call share {share!r} is outside [0, 1]; pass a fraction such as 0.5")

    ordered = np.sort(rates)[::-1]
    count = int(round(share * rates.size))
    if count == 0:
        return float(min(1.0, np.nextafter(ordered[0], np.inf)))
    return float(ordered[count - 1])
