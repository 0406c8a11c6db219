"""Routing curves of any two-path method, their APGR and CPT, and bootstrap intervals over prompts.

A routing method gives each prompt a score and two outcomes. It takes the first
when the score reaches the threshold: for a plain router, the strong model's
answer. It takes the second otherwise: the weak model's answer, or for the
hybrid pipeline, the weak answer with the judge and the fallback. Each outcome
has a quality, a dollar cost and a number of strong-model calls.

Thresholds follow RouteLLM's evals, as `hybrid.metrics` describes: the scores'
quantiles at 0, 1/k, ..., 1, with `>=` at every threshold but the last, which
uses `>` and so routes nothing. The curve then gets two anchor points, always-weak
(share 0, weak quality, weak cost) and always-strong (share 1, strong quality,
strong cost). A plain router's curve already ends at both, so the anchors add no
area and its APGR equals `hybrid.metrics.router_apgr`. A hybrid curve starts at
the fallback share instead of 0; the anchor stands for mixing the hybrid with
always-weak, which any deployment can do by sending a share of its traffic to
the weak model alone.

APGR is the area under quality against strong-call share, rescaled so always-weak
is 0 and always-strong is 1. CPT(x) is the strong-call share at which the curve
first reaches the fraction x of the quality gap, walking from share 0 up; the
dollar CPT is the same walk along mean cost per prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hybrid.errors import InputError
from hybrid.metrics import DEFAULT_NUM_POINTS, quantile_thresholds

__all__ = [
    "CPT_FRACTIONS",
    "CurveRows",
    "Interval",
    "MethodMetrics",
    "Outcome",
    "apgr_rows",
    "bootstrap_indices",
    "bootstrap_metrics",
    "compute_curves",
    "cpt_rows",
    "crossing",
    "method_metrics",
    "random_spread",
]

Array = NDArray[np.float64]

CPT_FRACTIONS = (0.5, 0.8)
BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.9
RANDOM_DRAWS = 1000

# Upper bound on the boolean routing array built per chunk of rows, in elements.
_CHUNK_ELEMENTS = 8_000_000


@dataclass(frozen=True)
class Outcome:
    """One path's per-prompt quality, dollar cost (None when unknown) and strong-model calls."""

    quality: Array
    cost_usd: Array | None
    strong_calls: Array


@dataclass(frozen=True)
class CurveRows:
    """Curves of several score rows at once, each array of shape (rows, points), anchors included.

    Points are sorted by strong-call share. `cost_usd` is the mean cost per prompt,
    or None when a path has no cost.
    """

    strong_share: Array
    quality: Array
    cost_usd: Array | None
    strong_mean: Array
    weak_mean: Array
    strong_cost: Array | None
    weak_cost: Array | None


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval."""

    value: float
    low: float
    high: float

    def overlaps(self, other: Interval) -> bool:
        """Return whether the two intervals share any value, in which case neither is shown to be higher."""
        return self.low <= other.high and other.low <= self.high


@dataclass(frozen=True)
class MethodMetrics:
    """APGR and the CPTs of one method on one benchmark, each with a bootstrap interval.

    `cpt_share` maps a fraction to the strong-call share needed; `cpt_cost_usd` maps
    it to the mean dollar cost per prompt needed, when costs are known.
    """

    apgr: Interval
    cpt_share: dict[float, Interval]
    cpt_cost_usd: dict[float, Interval] | None


def compute_curves(scores: Array, routed: Outcome, other: Outcome, strong: Outcome, weak: Outcome,
                   num_points: int = DEFAULT_NUM_POINTS) -> CurveRows:
    """Compute the curves of score rows of shape (rows, n) over per-prompt outcomes of shape (rows, n) or (n,).

    `strong` and `weak` are always-strong and always-weak, which give the anchors
    and the quality gap.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    rows, n = scores.shape
    if n == 0:
        raise InputError("cannot compute a routing curve on zero prompts")
    if num_points < 1:
        raise InputError(f"num_points must be at least 1, got {num_points}; RouteLLM uses 10")

    def full(values: Array) -> Array:
        return np.broadcast_to(np.asarray(values, dtype=np.float64), (rows, n))

    with_costs = all(outcome.cost_usd is not None for outcome in (routed, other, strong, weak))
    thresholds = quantile_thresholds(np.sort(scores, axis=1), num_points)
    fields = ("quality", "strong_calls") + (("cost_usd",) if with_costs else ())

    sums = {name: np.empty((rows, num_points + 1)) for name in fields}
    chunk = max(1, _CHUNK_ELEMENTS // ((num_points + 1) * n))
    for start in range(0, rows, chunk):
        block = slice(start, start + chunk)
        chosen = scores[block, None, :] >= thresholds[block, :, None]
        chosen[:, -1, :] = scores[block, :] > thresholds[block, -1, None]
        for name in fields:
            first = full(getattr(routed, name))[block, None, :]
            second = full(getattr(other, name))[block, None, :]
            sums[name][block] = np.where(chosen, first, second).mean(axis=2)

    strong_mean = full(strong.quality).mean(axis=1)
    weak_mean = full(weak.quality).mean(axis=1)
    strong_cost = full(strong.cost_usd).mean(axis=1) if with_costs else None  # type: ignore[arg-type]
    weak_cost = full(weak.cost_usd).mean(axis=1) if with_costs else None  # type: ignore[arg-type]

    share = np.concatenate([np.zeros((rows, 1)), sums["strong_calls"], np.ones((rows, 1))], axis=1)
    quality = np.concatenate([weak_mean[:, None], sums["quality"], strong_mean[:, None]], axis=1)
    cost = None
    if with_costs:
        cost = np.concatenate([weak_cost[:, None], sums["cost_usd"], strong_cost[:, None]], axis=1)  # type: ignore[index]

    order = np.argsort(share, axis=1, kind="stable")
    return CurveRows(
        strong_share=np.take_along_axis(share, order, axis=1),
        quality=np.take_along_axis(quality, order, axis=1),
        cost_usd=None if cost is None else np.take_along_axis(cost, order, axis=1),
        strong_mean=strong_mean,
        weak_mean=weak_mean,
        strong_cost=strong_cost,
        weak_cost=weak_cost,
    )


def apgr_rows(curves: CurveRows) -> Array:
    """Return each row's APGR; rows whose two models tie on mean quality give NaN."""
    area = np.trapezoid(curves.quality, curves.strong_share, axis=1)
    gap = curves.strong_mean - curves.weak_mean
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap != 0, (area - curves.weak_mean) / np.where(gap != 0, gap, 1.0), np.nan)


def crossing(axis: Array, quality: Array, target: float) -> float:
    """Return the first `axis` value, walking up the axis, where the piecewise-linear curve reaches `target`.

    Returns NaN when the curve never reaches it.
    """
    order = np.argsort(axis, kind="stable")
    xs = axis[order]
    ys = quality[order]
    if ys[0] >= target:
        return float(xs[0])

    for index in range(1, len(xs)):
        if ys[index] < target:
            continue
        rise = ys[index] - ys[index - 1]
        step = (target - ys[index - 1]) / rise
        return float(xs[index - 1] + step * (xs[index] - xs[index - 1]))
    return float("nan")


def cpt_rows(curves: CurveRows, fraction: float, *, on_cost: bool = False) -> Array:
    """Return each row's CPT(fraction) along the strong-call share, or along mean cost when `on_cost`."""
    axis = curves.cost_usd if on_cost else curves.strong_share
    if axis is None:
        raise InputError("this curve has no costs; price both models to compute a dollar CPT")

    values = np.empty(axis.shape[0])
    for row in range(axis.shape[0]):
        gap = curves.strong_mean[row] - curves.weak_mean[row]
        if gap <= 0:
            values[row] = np.nan
            continue
        target = curves.weak_mean[row] + fraction * gap
        values[row] = crossing(axis[row], curves.quality[row], target)
    return values


def method_metrics(scores: Array, routed: Outcome, other: Outcome, strong: Outcome, weak: Outcome, *,
                   resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0,
                   num_points: int = DEFAULT_NUM_POINTS) -> MethodMetrics:
    """Compute APGR and CPTs on all prompts, with percentile bootstrap intervals over resampled prompts.

    The same `seed` draws the same resamples for every method of a benchmark, so
    their intervals come from the same prompt sets.
    """
    scores = np.asarray(scores, dtype=np.float64)
    point = compute_curves(scores, routed, other, strong, weak, num_points)
    if float(point.strong_mean[0]) <= float(point.weak_mean[0]):
        raise InputError(
            f"APGR needs a strong model better than the weak one, got mean qualities {point.strong_mean[0]:.4f} "
            f"(strong) and {point.weak_mean[0]:.4f} (weak)"
        )

    indices = bootstrap_indices(scores.shape[0], resamples, seed)
    sampled = compute_curves(scores[indices], _take(routed, indices), _take(other, indices), _take(strong, indices),
                             _take(weak, indices), num_points)
    return bootstrap_metrics(point, sampled, confidence)


def bootstrap_indices(n: int, resamples: int, seed: int) -> NDArray[np.int64]:
    """Draw `resamples` rows of `n` prompt indices with replacement."""
    if resamples < 1:
        raise InputError(f"resamples must be at least 1, got {resamples}")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_metrics(point: CurveRows, sampled: CurveRows, confidence: float = CONFIDENCE) -> MethodMetrics:
    """Pair the point estimates of a one-row curve with percentile intervals from resampled rows."""
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}; pass 0.9 for a 90% interval")

    def interval(value: float, samples: Array) -> Interval:
        finite = samples[np.isfinite(samples)]
        if finite.size == 0 or not np.isfinite(value):
            return Interval(value, float("nan"), float("nan"))
        tail = (1.0 - confidence) / 2.0
        low, high = np.quantile(finite, [tail, 1.0 - tail])
        return Interval(value, float(low), float(high))

    apgr = interval(float(apgr_rows(point)[0]), apgr_rows(sampled))
    cpt_share = {
        fraction: interval(float(cpt_rows(point, fraction)[0]), cpt_rows(sampled, fraction))
        for fraction in CPT_FRACTIONS
    }
    cpt_cost = None
    if point.cost_usd is not None and sampled.cost_usd is not None:
        cpt_cost = {
            fraction: interval(float(cpt_rows(point, fraction, on_cost=True)[0]),
                               cpt_rows(sampled, fraction, on_cost=True))
            for fraction in CPT_FRACTIONS
        }
    return MethodMetrics(apgr=apgr, cpt_share=cpt_share, cpt_cost_usd=cpt_cost)


def random_spread(strong: Outcome, weak: Outcome, *, draws: int = RANDOM_DRAWS, confidence: float = CONFIDENCE,
                  seed: int = 0, num_points: int = DEFAULT_NUM_POINTS) -> Interval:
    """Return the mean APGR of `draws` random routers on these prompts and the central `confidence` range.

    This is the spread a router with no skill shows on exactly these prompts, the
    yardstick for reading any other router's APGR on them.
    """
    n = strong.quality.shape[0]
    scores = np.random.default_rng(seed).uniform(size=(draws, n))
    values = apgr_rows(compute_curves(scores, strong, weak, strong, weak, num_points))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Interval(float(values.mean()), float(low), float(high))


def _take(outcome: Outcome, indices: NDArray[np.int64]) -> Outcome:
    return Outcome(
        quality=np.asarray(outcome.quality)[indices],
        cost_usd=None if outcome.cost_usd is None else np.asarray(outcome.cost_usd)[indices],
        strong_calls=np.asarray(outcome.strong_calls)[indices],
    )
