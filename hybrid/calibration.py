"""Threshold calibration on the user's own prompts: no model calls beyond the router's own scoring.

- `threshold_for_strong_share`: from win rates alone, the threshold that sends a
  given share of prompts to the strong model.
- `threshold_for_quality`: with labelled prompts (both models' quality per
  prompt), the threshold that reaches a target mean quality at minimum cost.
- `calibrate_hybrid`: with labelled prompts and the judge's score of each weak
  answer, the router threshold and the judge's acceptance cut that reach a
  target quality at minimum cost, for the hybrid pipeline.

A prompt goes to the strong model when `win_rate >= threshold`, and the judge
accepts a weak answer when `judge_score >= cut`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hybrid.errors import InputError

__all__ = [
    "HybridCalibration",
    "ThresholdCalibration",
    "calibrate_hybrid",
    "strong_share_at",
    "threshold_for_quality",
    "threshold_for_strong_share",
]

# With more distinct judge scores than this, the cut is searched over this many quantiles.
MAX_CUT_CANDIDATES = 101


@dataclass(frozen=True)
class ThresholdCalibration:
    """A router threshold and what it gives on the calibration prompts: quality, cost per prompt and strong share."""

    threshold: float
    quality: float
    cost: float
    strong_share: float


@dataclass(frozen=True)
class HybridCalibration:
    """A router threshold and a judge cut, with the quality, cost per prompt, strong-call share and acceptance they give."""

    threshold: float
    judge_cut: float
    quality: float
    cost: float
    strong_share: float
    accept_rate: float


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


def strong_share_at(win_rates: Sequence[float] | np.ndarray, threshold: float) -> float:
    """Return the share of prompts that `threshold` sends to the strong model."""
    rates = _rates(win_rates)
    _check_threshold(threshold)
    return float(np.mean(rates >= threshold))


def threshold_for_quality(
    win_rates: Sequence[float] | np.ndarray,
    strong_quality: Sequence[float] | np.ndarray,
    weak_quality: Sequence[float] | np.ndarray,
    target_quality: float,
    *,
    strong_cost: Sequence[float] | np.ndarray | None = None,
    weak_cost: Sequence[float] | np.ndarray | None = None,
) -> ThresholdCalibration:
    """Return the threshold with the lowest mean cost whose mean quality reaches `target_quality`.

    Costs default to 1 per strong call and 0 per weak call, so the cost is the
    strong-call share. Among thresholds of equal cost, the highest quality wins.
    Raises InputError when no threshold reaches the target, naming the best
    quality on offer.
    """
    rates = _rates(win_rates)
    strong, weak = _pair(rates, strong_quality, weak_quality, "quality")
    strong_costs, weak_costs = _costs(rates, strong_cost, weak_cost)

    thresholds, quality, cost, share = _sweep(rates, strong, weak, strong_costs, weak_costs)
    best = _cheapest(quality, cost, target_quality)
    return ThresholdCalibration(threshold=float(thresholds[best]), quality=float(quality[best]),
                                cost=float(cost[best]), strong_share=float(share[best]))


def calibrate_hybrid(
    win_rates: Sequence[float] | np.ndarray,
    strong_quality: Sequence[float] | np.ndarray,
    weak_quality: Sequence[float] | np.ndarray,
    judge_scores: Sequence[float] | np.ndarray,
    target_quality: float,
    *,
    strong_cost: Sequence[float] | np.ndarray | None = None,
    weak_cost: Sequence[float] | np.ndarray | None = None,
    judge_cost: Sequence[float] | np.ndarray | None = None,
) -> HybridCalibration:
    """Return the router threshold and judge cut with the lowest mean cost that reach `target_quality`.

    A prompt below the threshold gets the weak answer, which the judge accepts
    when its score reaches the cut. Otherwise the strong model answers as the
    fallback, and the prompt costs the weak call, the judge call and the fallback.
    Costs default to 1 per strong call and 0 per weak or judge call.
    """
    rates = _rates(win_rates)
    strong, weak = _pair(rates, strong_quality, weak_quality, "quality")
    scores = _column(rates, judge_scores, "judge_scores")
    strong_costs, weak_costs = _costs(rates, strong_cost, weak_cost)
    judge_costs = np.zeros_like(rates) if judge_cost is None else _column(rates, judge_cost, "judge_cost")

    best: HybridCalibration | None = None
    for cut in _cut_candidates(scores):
        accepted = scores >= cut
        path_quality = np.where(accepted, weak, strong)
        path_cost = weak_costs + judge_costs + np.where(accepted, 0.0, strong_costs)
        path_strong = np.where(accepted, 0.0, 1.0)

        thresholds, quality, cost, share = _sweep(rates, strong, path_quality, strong_costs, path_cost,
                                                  other_strong=path_strong)
        try:
            index = _cheapest(quality, cost, target_quality)
        except InputError:
            continue

        routed = rates >= thresholds[index]
        candidate = HybridCalibration(
            threshold=float(thresholds[index]), judge_cut=float(cut), quality=float(quality[index]),
            cost=float(cost[index]), strong_share=float(share[index]),
            accept_rate=float(accepted[~routed].mean()) if (~routed).any() else 0.0,
        )
        if best is None or (candidate.cost, -candidate.quality) < (best.cost, -best.quality):
            best = candidate

    if best is None:
        raise InputError(
            f"no threshold and judge cut reach mean quality {target_quality!r} on these prompts; the best possible is "
            f"{float(np.maximum(strong, weak).mean()):.4g}. Lower the target"
        )
    return best


def _sweep(rates: np.ndarray, strong: np.ndarray, other: np.ndarray, strong_cost: np.ndarray, other_cost: np.ndarray,
           *, other_strong: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Return every distinct threshold with its mean quality, mean cost and strong-call share.

    Thresholds are the distinct win rates, highest first, then one above the
    highest (nothing routed strong). Prompts at or above a threshold take the
    strong outcome, the others the `other` outcome.
    """
    order = np.argsort(-rates, kind="stable")
    ordered = rates[order]
    n = rates.size
    other_strong = np.zeros(n) if other_strong is None else other_strong

    # Switching prompt i from the other outcome to strong changes each total by these amounts.
    quality_gain = np.concatenate([[0.0], np.cumsum((strong - other)[order])])
    cost_gain = np.concatenate([[0.0], np.cumsum((strong_cost - other_cost)[order])])
    strong_gain = np.concatenate([[0.0], np.cumsum((1.0 - other_strong)[order])])

    # A threshold equal to a win rate routes every prompt with that rate, so only the last of a run of ties counts.
    last_of_run = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True)) + 1
    counts = np.concatenate([[0], last_of_run])
    above_max = float(min(1.0, np.nextafter(ordered[0], np.inf)))
    thresholds = np.concatenate([[above_max], ordered[last_of_run - 1]])

    quality = (other.sum() + quality_gain[counts]) / n
    cost = (other_cost.sum() + cost_gain[counts]) / n
    share = (other_strong.sum() + strong_gain[counts]) / n
    return thresholds, quality, cost, share


def _cheapest(quality: np.ndarray, cost: np.ndarray, target: float) -> int:
    # A tiny tolerance keeps a target equal to a reachable mean from failing on rounding.
    reaching = np.flatnonzero(quality >= target - 1e-12)
    if reaching.size == 0:
        raise InputError(
            f"no threshold reaches mean quality {target!r} on these prompts; the best possible is "
            f"{float(quality.max()):.4g}. Lower the target"
        )
    return int(min(reaching, key=lambda index: (cost[index], -quality[index])))


def _cut_candidates(scores: np.ndarray) -> np.ndarray:
    distinct = np.unique(scores)
    if distinct.size > MAX_CUT_CANDIDATES:
        distinct = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, MAX_CUT_CANDIDATES)))
    # One cut above every score rejects every weak answer.
    return np.append(distinct, np.nextafter(distinct[-1], np.inf))


def _rates(win_rates: Sequence[float] | np.ndarray) -> np.ndarray:
    rates = np.asarray(win_rates, dtype=float)
    if rates.ndim != 1 or rates.size == 0:
        raise InputError("cannot calibrate a threshold on zero prompts; pass at least one win rate")
    outside = np.flatnonzero(~((rates >= 0.0) & (rates <= 1.0)))
    if outside.size:
        raise InputError(f"win rate {float(rates[outside[0]])!r} at position {outside[0]} is outside [0, 1]")
    return rates


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold {threshold!r} is outside [0, 1]; pass a value such as 0.5")


def _column(rates: np.ndarray, values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.shape != rates.shape:
        raise InputError(f"{name} has {array.size} values but there are {rates.size} win rates; give one per prompt")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} contains NaN or infinite values at positions {np.flatnonzero(~np.isfinite(array))[:5].tolist()}")
    return array


def _pair(rates: np.ndarray, strong: Sequence[float] | np.ndarray, weak: Sequence[float] | np.ndarray,
          quantity: str) -> tuple[np.ndarray, np.ndarray]:
    return _column(rates, strong, f"strong {quantity}"), _column(rates, weak, f"weak {quantity}")


def _costs(rates: np.ndarray, strong_cost: Sequence[float] | np.ndarray | None,
           weak_cost: Sequence[float] | np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    strong = np.ones_like(rates) if strong_cost is None else _column(rates, strong_cost, "strong_cost")
    weak = np.zeros_like(rates) if weak_cost is None else _column(rates, weak_cost, "weak_cost")
    return strong, weak
