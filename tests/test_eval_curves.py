"""Curves, APGR, CPT and bootstrap intervals of hybrid.evaluation.curves."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.errors import InputError
from hybrid.evaluation.curves import (
    Interval,
    Outcome,
    apgr_rows,
    compute_curves,
    cpt_rows,
    crossing,
    method_metrics,
    random_spread,
)
from hybrid.metrics import cpt, quality_curve, router_apgr


def two_models(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    strong = (rng.random(n) < 0.8).astype(float)
    weak = (rng.random(n) < 0.6).astype(float)
    scores = rng.random(n) + 0.3 * (strong > weak)
    scores[: n // 5] = 0.5  # a block of tied scores
    return scores, strong, weak


def outcomes(strong: np.ndarray, weak: np.ndarray) -> tuple[Outcome, Outcome]:
    n = strong.shape[0]
    return (Outcome(strong, np.full(n, 10.0), np.ones(n)), Outcome(weak, np.full(n, 1.0), np.zeros(n)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_router_apgr_matches_metrics(seed: int) -> None:
    scores, strong, weak = two_models(400, seed)
    strong_outcome, weak_outcome = outcomes(strong, weak)

    curves = compute_curves(scores, strong_outcome, weak_outcome, strong_outcome, weak_outcome)

    assert apgr_rows(curves)[0] == pytest.approx(router_apgr(scores, strong, weak), abs=1e-12)


@pytest.mark.parametrize("fraction", [0.5, 0.8])
def test_router_cpt_matches_metrics(fraction: float) -> None:
    scores, strong, weak = two_models(300, 5)
    strong_outcome, weak_outcome = outcomes(strong, weak)
    expected = cpt(quality_curve(scores, strong, weak), fraction, strong.mean(), weak.mean())

    curves = compute_curves(scores, strong_outcome, weak_outcome, strong_outcome, weak_outcome)

    assert cpt_rows(curves, fraction)[0] == pytest.approx(expected, abs=1e-12)


def test_hybrid_curve_by_hand() -> None:
    # Two prompts, one threshold step (num_points=1): thresholds are the min and the max score.
    scores = np.array([0.2, 0.9])
    strong = Outcome(np.array([1.0, 1.0]), np.array([10.0, 10.0]), np.array([1.0, 1.0]))
    weak = Outcome(np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([0.0, 0.0]))
    # The weak path: prompt 0 is rejected and falls back (quality 1, cost 1 + 2 + 10), prompt 1 accepted (cost 1 + 2).
    weak_path = Outcome(np.array([1.0, 1.0]), np.array([13.0, 3.0]), np.array([1.0, 0.0]))

    curves = compute_curves(scores, strong, weak_path, strong, weak, num_points=1)

    # Points: anchor (0, 0.5, 1), all weak path (0.5, 1, 8), all strong (1, 1, 10), anchor (1, 1, 10).
    np.testing.assert_allclose(curves.strong_share[0], [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(curves.quality[0], [0.5, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(curves.cost_usd[0], [1.0, 8.0, 10.0, 10.0])
    # Area: 0.5 * (0.5 + 1) / 2 + 0.5 * 1 = 0.875; APGR = (0.875 - 0.5) / (1 - 0.5).
    assert apgr_rows(curves)[0] == pytest.approx(0.75)
    # Half the gap (quality 0.75) is reached halfway to share 0.5, and at cost 1 + 0.5 * 7.
    assert cpt_rows(curves, 0.5)[0] == pytest.approx(0.25)
    assert cpt_rows(curves, 0.5, on_cost=True)[0] == pytest.approx(4.5)


def test_curve_without_costs_has_no_dollar_cpt() -> None:
    scores, strong, weak = two_models(50, 3)
    strong_outcome = Outcome(strong, None, np.ones(50))
    weak_outcome = Outcome(weak, None, np.zeros(50))

    curves = compute_curves(scores, strong_outcome, weak_outcome, strong_outcome, weak_outcome)

    assert curves.cost_usd is None
    with pytest.raises(InputError, match="no costs"):
        cpt_rows(curves, 0.5, on_cost=True)


def test_crossing_never_reached_is_nan() -> None:
    assert np.isnan(crossing(np.array([0.0, 1.0]), np.array([0.1, 0.2]), 0.5))
    assert crossing(np.array([1.0, 0.0]), np.array([0.6, 0.2]), 0.4) == pytest.approx(0.5)


def test_bootstrap_interval_contains_estimate_and_repeats() -> None:
    scores, strong, weak = two_models(300, 7)
    strong_outcome, weak_outcome = outcomes(strong, weak)

    first = method_metrics(scores, strong_outcome, weak_outcome, strong_outcome, weak_outcome, resamples=200, seed=3)
    second = method_metrics(scores, strong_outcome, weak_outcome, strong_outcome, weak_outcome, resamples=200, seed=3)

    assert first == second
    assert first.apgr.low < first.apgr.value < first.apgr.high
    assert first.apgr.value == pytest.approx(router_apgr(scores, strong, weak))
    for fraction, interval in first.cpt_share.items():
        assert interval.low <= interval.value <= interval.high, fraction
    assert first.cpt_cost_usd is not None
    # Cost is 1 + 9 * share here, so the dollar CPT is the share CPT mapped through that line.
    assert first.cpt_cost_usd[0.5].value == pytest.approx(1 + 9 * first.cpt_share[0.5].value)


def test_method_metrics_rejects_weak_better() -> None:
    scores, strong, weak = two_models(100, 8)
    strong_outcome, weak_outcome = outcomes(weak, strong)

    with pytest.raises(InputError, match="strong model better"):
        method_metrics(scores, strong_outcome, weak_outcome, strong_outcome, weak_outcome, resamples=10)


def test_random_spread_centres_on_half() -> None:
    _, strong, weak = two_models(1000, 9)
    strong_outcome, weak_outcome = outcomes(strong, weak)

    spread = random_spread(strong_outcome, weak_outcome, draws=300)

    assert spread.value == pytest.approx(0.5, abs=0.02)
    assert spread.low < 0.5 < spread.high


def test_interval_overlap() -> None:
    assert Interval(0.6, 0.5, 0.7).overlaps(Interval(0.75, 0.69, 0.8))
    assert not Interval(0.6, 0.5, 0.7).overlaps(Interval(0.8, 0.71, 0.9))
