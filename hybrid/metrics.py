"""Routing metrics as RouteLLM 0.2.0 defines them, without its crash on tied scores.

A router gives every prompt a strong-model win rate. RouteLLM's `evals/` turns those
scores into a curve of strong-call share against quality:

1. Thresholds are the scores' quantiles at 0, 1/k, ..., 1 (k = 10 by default), so
   the curve has k + 1 points.
2. At every threshold except the last, prompts scoring `>=` the threshold go to the
   strong model. At the last threshold (the maximum score) the test is strict `>`,
   so no prompt goes to the strong model. The first threshold (the minimum score)
   therefore sends every prompt to the strong model, and the curve always spans
   strong-call shares 0 to 1.
3. Quality at a threshold is the mean per-prompt quality of the routed answers:
   correctness (0/1) on MMLU and GSM8K, the judge's score on MT-Bench.

APGR is the area under that curve (trapezoid rule over the strong-call share),
rescaled so that always-weak scores 0 and always-strong scores 1. CPT(x) is the
strong-call share at which the curve first recovers the fraction x of the quality
gap between the two models.

RouteLLM finds the thresholds with `pd.qcut`, which raises when tied scores make two
quantiles equal. Here the quantiles are computed directly, and duplicate thresholds
simply repeat a curve point, which adds no area.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hybrid.errors import InputError

__all__ = [
    "ConfidenceInterval",
    "CurvePoint",
    "apgr",
    "bootstrap_ci",
    "cpt",
    "quality_curve",
    "quantile_thresholds",
    "random_router_apgr",
    "router_apgr",
]

logger = logging.getLogger("hybrid.metrics")

DEFAULT_NUM_POINTS = 10
RANDOM_ITERATIONS = 10
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_CONFIDENCE = 0.9

# Upper bound on the boolean routing matrix built per bootstrap chunk, in elements.
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class CurvePoint:
    """One point of the quality curve: a threshold, its strong-call share (0 to 1) and its mean quality."""

    threshold: float
    strong_share: float
    quality: float


class ConfidenceInterval(NamedTuple):
    """A two-sided bootstrap interval."""

    low: float
    high: float


def quality_curve(
    win_rates: ArrayLike,
    strong_quality: ArrayLike,
    weak_quality: ArrayLike,
    num_points: int = DEFAULT_NUM_POINTS,
) -> list[CurvePoint]:
    """Compute the strong-call share and quality at each of the `num_points + 1` thresholds.

    `win_rates` are the router's scores, `strong_quality` and `weak_quality` the
    per-prompt quality of each model's answer (bool or float), all of one length.
    Points are returned in threshold order, from share 1 down to share 0.
    """
    scores, strong, weak = _validate(win_rates, strong_quality, weak_quality, num_points)
    thresholds, shares, qualities = _curves(scores[None, :], strong[None, :], weak[None, :], num_points)

    return [
        CurvePoint(threshold=float(threshold), strong_share=float(share), quality=float(quality))
        for threshold, share, quality in zip(thresholds[0], shares[0], qualities[0])
    ]


def apgr(curve: Sequence[CurvePoint], strong_quality_mean: float, weak_quality_mean: float) -> float:
    """Return the area under `curve`, rescaled so always-weak is 0 and always-strong is 1.

    The means are the quality of sending every prompt to the strong or to the weak
    model. Like RouteLLM, the reference areas are taken over the curve's own range
    of strong-call shares, which is 0 to 1 for curves from `quality_curve`.
    """
    gap = strong_quality_mean - weak_quality_mean
    if gap == 0:
        raise InputError(
            f"APGR is undefined when both models have the same mean quality ({strong_quality_mean}); "
            "evaluate on prompts where the two models differ"
        )

    shares, qualities = _sorted_by_share(curve)
    width = shares[-1] - shares[0]
    if width == 0:
        raise InputError("the curve spans a single strong-call share; build it with quality_curve")

    area = float(np.trapezoid(qualities, shares))
    return (area - weak_quality_mean * width) / (gap * width)


def cpt(curve: Sequence[CurvePoint], fraction: float, strong_quality_mean: float, weak_quality_mean: float) -> float:
    """Return the strong-call share needed to recover `fraction` of the quality gap.

    The result is the first share, walking the curve from 0 to 1, at which quality
    reaches `weak + fraction * (strong - weak)`, interpolated linearly inside the
    segment where it crosses. RouteLLM uses `np.interp` with quality as the x-axis,
    which gives the same value whenever quality rises monotonically along the curve
    and an arbitrary one otherwise. If the curve never reaches the target, the result
    is 1.0, which is where `np.interp` clamps too.
    """
    if not 0.0 <= fraction <= 1.0:
        raise InputError(f"fraction must be between 0 and 1, got {fraction}; pass 0.5 for CPT(50%)")
    if strong_quality_mean <= weak_quality_mean:
        raise InputError(
            f"CPT needs a strong model better than the weak one, got means {strong_quality_mean} "
            f"(strong) and {weak_quality_mean} (weak)"
        )

    shares, qualities = _sorted_by_share(curve)
    target = weak_quality_mean + fraction * (strong_quality_mean - weak_quality_mean)
    if qualities[0] >= target:
        return float(shares[0])

    for index in range(1, len(shares)):
        if qualities[index] < target:
            continue
        rise = qualities[index] - qualities[index - 1]
        step = (target - qualities[index - 1]) / rise
        return float(shares[index - 1] + step * (shares[index] - shares[index - 1]))

    return 1.0


def router_apgr(
    win_rates: ArrayLike,
    strong_quality: ArrayLike,
    weak_quality: ArrayLike,
    num_points: int = DEFAULT_NUM_POINTS,
) -> float:
    """Compute the curve and its APGR, taking the two models' means from the quality arrays."""
    scores, strong, weak = _validate(win_rates, strong_quality, weak_quality, num_points)
    _require_gap(strong, weak)
    return float(_apgr_rows(scores[None, :], strong[None, :], weak[None, :], num_points)[0])


def random_router_apgr(
    strong_quality: ArrayLike,
    weak_quality: ArrayLike,
    *,
    iterations: int = RANDOM_ITERATIONS,
    seed: int = 0,
    num_points: int = DEFAULT_NUM_POINTS,
) -> float:
    """Return the mean APGR of `iterations` routers that score prompts uniformly at random.

    RouteLLM averages the curves of 10 random runs point by point and scores the mean
    curve. Continuous random scores have no ties, so every run has the same shares
    and averaging the APGRs gives the same number.
    """
    if iterations < 1:
        raise InputError(f"iterations must be at least 1, got {iterations}")

    placeholder = np.zeros(np.shape(strong_quality)[:1])
    _, strong, weak = _validate(placeholder, strong_quality, weak_quality, num_points)
    _require_gap(strong, weak)

    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.0, 1.0, size=(iterations, strong.shape[0]))
    rows = _apgr_rows(scores, np.broadcast_to(strong, scores.shape), np.broadcast_to(weak, scores.shape), num_points)
    return float(rows.mean())


def bootstrap_ci(
    win_rates: ArrayLike,
    strong_quality: ArrayLike,
    weak_quality: ArrayLike,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = BOOTSTRAP_CONFIDENCE,
    seed: int = 0,
    num_points: int = DEFAULT_NUM_POINTS,
) -> ConfidenceInterval:
    """Return a percentile bootstrap interval for the router's APGR.

    Each resample draws prompts with replacement and recomputes thresholds, both
    models' means and APGR. A resample in which the two models tie on mean quality
    has no APGR and is left out.
    """
    scores, strong, weak = _validate(win_rates, strong_quality, weak_quality, num_points)
    _require_gap(strong, weak)
    if resamples < 1:
        raise InputError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}; pass 0.9 for a 90% interval")

    rng = np.random.default_rng(seed)
    indices = rng.integers(0, scores.shape[0], size=(resamples, scores.shape[0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = _apgr_rows(scores[indices], strong[indices], weak[indices], num_points)

    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise InputError("every bootstrap resample had equal strong and weak quality; APGR is undefined here")
    if finite.size < values.size:
        logger.warning("left out %d of %d bootstrap resamples with no quality gap", values.size - finite.size, values.size)

    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return ConfidenceInterval(low=float(low), high=float(high))


def _validate(
    win_rates: ArrayLike, strong_quality: ArrayLike, weak_quality: ArrayLike, num_points: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    scores = np.asarray(win_rates, dtype=np.float64)
    strong = np.asarray(strong_quality, dtype=np.float64)
    weak = np.asarray(weak_quality, dtype=np.float64)

    if num_points < 1:
        raise InputError(f"num_points must be at least 1, got {num_points}; RouteLLM uses 10")
    if scores.ndim != 1 or scores.shape[0] == 0:
        raise InputError(f"win_rates must be a non-empty 1-D array, got shape {scores.shape}")
    if strong.shape != scores.shape or weak.shape != scores.shape:
        raise InputError(
            f"win_rates, strong_quality and weak_quality must have one value per prompt, got shapes "
            f"{scores.shape}, {strong.shape} and {weak.shape}"
        )
    for name, values in (("win_rates", scores), ("strong_quality", strong), ("weak_quality", weak)):
        if not np.all(np.isfinite(values)):
            raise InputError(f"{name} contains NaN or infinite values at positions {np.flatnonzero(~np.isfinite(values))[:5].tolist()}")

    return scores, strong, weak


def _require_gap(strong: NDArray[np.float64], weak: NDArray[np.float64]) -> None:
    if strong.mean() == weak.mean():
        raise InputError(
            f"APGR is undefined when both models have the same mean quality ({strong.mean()}); "
            "evaluate on prompts where the two models differ"
        )


def quantile_thresholds(sorted_scores: NDArray[np.float64], num_points: int) -> NDArray[np.float64]:
    """Return the quantiles at i / num_points of each sorted row, with linear interpolation.

    The position i * (n - 1) / num_points is split into whole and fractional parts
    with integer arithmetic, so a quantile that falls exactly on a score equals it.
    """
    n = sorted_scores.shape[1]
    steps = np.arange(num_points + 1) * (n - 1)
    lower = steps // num_points
    fraction = (steps % num_points) / num_points
    upper = np.minimum(lower + 1, n - 1)

    below = sorted_scores[:, lower]
    above = sorted_scores[:, upper]
    return below + fraction * (above - below)


def _curves(
    scores: NDArray[np.float64], strong: NDArray[np.float64], weak: NDArray[np.float64], num_points: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Compute thresholds, strong-call shares and qualities for each row, shape (rows, num_points + 1)."""
    rows, n = scores.shape
    thresholds = quantile_thresholds(np.sort(scores, axis=1), num_points)
    gain = strong - weak
    weak_mean = weak.mean(axis=1)

    shares = np.empty_like(thresholds)
    qualities = np.empty_like(thresholds)
    chunk = max(1, _CHUNK_ELEMENTS // ((num_points + 1) * n))
    for start in range(0, rows, chunk):
        block = slice(start, start + chunk)
        routed = scores[block, None, :] >= thresholds[block, :, None]

        # RouteLLM's last threshold is the maximum score and uses a strict test, so it routes nothing.
        routed[:, -1, :] = scores[block, :] > thresholds[block, -1, None]

        shares[block] = routed.mean(axis=2)
        qualities[block] = weak_mean[block, None] + np.where(routed, gain[block, None, :], 0.0).sum(axis=2) / n

    return thresholds, shares, qualities


def _apgr_rows(
    scores: NDArray[np.float64], strong: NDArray[np.float64], weak: NDArray[np.float64], num_points: int
) -> NDArray[np.float64]:
    _, shares, qualities = _curves(scores, strong, weak, num_points)

    # Thresholds rise along each row, so shares fall. Reversing puts them in ascending order.
    area = np.trapezoid(qualities[:, ::-1], shares[:, ::-1], axis=1)
    width = shares[:, 0] - shares[:, -1]
    strong_mean = strong.mean(axis=1)
    weak_mean = weak.mean(axis=1)
    return (area - weak_mean * width) / ((strong_mean - weak_mean) * width)


def _sorted_by_share(curve: Sequence[CurvePoint]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if len(curve) < 2:
        raise InputError(f"a quality curve needs at least 2 points, got {len(curve)}")

    ordered = sorted(curve, key=lambda point: point.strong_share)
    shares = np.array([point.strong_share for point in ordered], dtype=np.float64)
    qualities = np.array([point.quality for point in ordered], dtype=np.float64)
    return shares, qualities
