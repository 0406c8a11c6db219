"""Tests for hybrid.metrics against hand-derived values and a RouteLLM-style reference."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from hybrid.errors import InputError
from hybrid.metrics import (
    CurvePoint,
    apgr,
    bootstrap_ci,
    cpt,
    quality_curve,
    random_router_apgr,
    router_apgr,
)


def routellm_reference(
    win_rates: np.ndarray, strong: np.ndarray, weak: np.ndarray, num_results: int = 10
) -> tuple[pd.DataFrame, float]:
    """Re-implement routellm 0.2.0's evals: qcut thresholds, >= selection, trapezoid APGR."""
    data = pd.DataFrame({"strong": strong, "weak": weak, "strong_win_rates": win_rates})
    _, thresholds = pd.qcut(win_rates, num_results, retbins=True)

    rows = []
    for i, threshold in enumerate(thresholds):
        if i != len(thresholds) - 1:
            selection = data["strong_win_rates"] >= threshold
        else:
            selection = data["strong_win_rates"] > threshold
        results = np.where(selection, data["strong"], data["weak"])
        rows.append(
            {
                "strong_percentage": selection.sum() / len(data) * 100,
                "accuracy": results.sum() / len(results) * 100,
            }
        )

    curve = pd.DataFrame(rows).sort_values(by=["strong_percentage"])
    strong_accuracy = data["strong"].mean() * 100
    weak_accuracy = data["weak"].mean() * 100
    x = curve["strong_percentage"] / 100
    area = np.trapezoid(curve["accuracy"], x)
    weak_area = np.trapezoid(np.full(len(curve), weak_accuracy), x)
    strong_area = np.trapezoid(np.full(len(curve), strong_accuracy), x)
    return curve, (area - weak_area) / (strong_area - weak_area)


def oracle_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Ten prompts: 5 both right, 2 only strong right, 3 both wrong.
    strong = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], dtype=bool)
    weak = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    oracle = (strong & ~weak).astype(float)
    return oracle, strong, weak


def test_oracle_router_hand_derived_apgr() -> None:
    oracle, strong, weak = oracle_case()

    # Sorted scores are eight 0s then two 1s. The quantile at 8/10 sits at position
    # 7.2, between a 0 and a 1, so it is 0.2; the 9/10 and 10/10 quantiles are 1.
    # Shares: thresholds 0..7 route everyone (1.0), 0.2 and 1 route the two
    # strong-only prompts (0.2), the strict last threshold routes no prompt (0.0).
    # Quality is 0.5 at share 0 and 0.7 from share 0.2 on, so the area is
    # 0.2 * (0.5 + 0.7) / 2 + 0.8 * 0.7 = 0.68 and APGR = (0.68 - 0.5) / (0.7 - 0.5) = 0.9.
    curve = quality_curve(oracle, strong, weak)

    assert len(curve) == 11
    assert [point.strong_share for point in curve] == pytest.approx([1.0] * 8 + [0.2, 0.2, 0.0])
    assert curve[8].threshold == pytest.approx(0.2)
    assert apgr(curve, 0.7, 0.5) == pytest.approx(0.9)
    assert router_apgr(oracle, strong, weak) == pytest.approx(0.9)


def test_oracle_router_cpt() -> None:
    oracle, strong, weak = oracle_case()
    curve = quality_curve(oracle, strong, weak)

    # Quality climbs linearly from 0.5 at share 0 to 0.7 at share 0.2, so half the gap needs share 0.1.
    assert cpt(curve, 0.5, 0.7, 0.5) == pytest.approx(0.1)
    assert cpt(curve, 1.0, 0.7, 0.5) == pytest.approx(0.2)
    assert cpt(curve, 0.0, 0.7, 0.5) == pytest.approx(0.0)


def test_tied_scores_do_not_crash() -> None:
    rng = np.random.default_rng(1)
    strong = rng.random(50) < 0.8
    weak = rng.random(50) < 0.5
    tied = np.full(50, 0.5)

    with pytest.raises(ValueError, match="Bin edges must be unique"):
        pd.qcut(tied, 10, retbins=True)

    curve = quality_curve(tied, strong, weak)
    shares = [point.strong_share for point in curve]

    # Every threshold is 0.5: all but the strict last one route every prompt.
    assert shares == [1.0] * 10 + [0.0]
    assert apgr(curve, strong.mean(), weak.mean()) == pytest.approx(0.5)
    assert router_apgr(tied, strong, weak) == pytest.approx(0.5)


def test_partly_tied_scores_match_share_counts() -> None:
    scores = np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    strong = np.ones(10, dtype=bool)
    weak = np.zeros(10, dtype=bool)

    curve = quality_curve(scores, strong, weak)

    assert curve[0].strong_share == 1.0
    assert curve[-1].strong_share == 0.0
    for point in curve:
        assert point.quality == pytest.approx(point.strong_share)


def test_curve_includes_both_endpoints() -> None:
    rng = np.random.default_rng(2)
    curve = quality_curve(rng.random(333), rng.random(333) < 0.7, rng.random(333) < 0.4)

    assert curve[0].strong_share == 1.0
    assert curve[-1].strong_share == 0.0


def test_random_router_near_half() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    strong = rng.random(n) < 0.75
    weak = rng.random(n) < 0.55

    # A random router's expected curve is the straight line from weak to strong, so
    # its expected APGR is exactly 0.5. At share s the quality deviates from that line
    # by a hypergeometric sum: its standard deviation is at most
    # sqrt(0.25 * n * var(gain)) / n ~ 0.0036 with var(gain) ~ 0.53, i.e. ~0.018 APGR
    # after dividing by the 0.2 gap. The area averages 9 interior points and 10 runs,
    # which shrinks that below 0.01, so 0.03 is more than three standard deviations.
    value = random_router_apgr(strong, weak)

    assert value == pytest.approx(0.5, abs=0.03)


def test_random_router_is_seeded() -> None:
    rng = np.random.default_rng(4)
    strong = rng.random(500) < 0.75
    weak = rng.random(500) < 0.55

    assert random_router_apgr(strong, weak, seed=7) == random_router_apgr(strong, weak, seed=7)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_apgr_matches_routellm_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 997
    scores = rng.random(n)
    strong = rng.random(n) < 0.7
    weak = rng.random(n) < 0.5

    reference_curve, reference_apgr = routellm_reference(scores, strong, weak)
    curve = quality_curve(scores, strong, weak)

    assert apgr(curve, strong.mean(), weak.mean()) == pytest.approx(reference_apgr, abs=1e-9)
    assert router_apgr(scores, strong, weak) == pytest.approx(reference_apgr, abs=1e-9)
    assert sorted(point.strong_share * 100 for point in curve) == pytest.approx(
        reference_curve["strong_percentage"].tolist(), abs=1e-9
    )


def test_apgr_matches_routellm_formula_on_scores() -> None:
    rng = np.random.default_rng(11)
    n = 72
    scores = rng.random(n)
    strong = rng.integers(1, 11, size=n).astype(float)
    weak = rng.integers(1, 11, size=n).astype(float)
    weak[0] = strong[0] - 3.0

    _, reference_apgr = routellm_reference(scores, strong, weak)

    assert router_apgr(scores, strong, weak) == pytest.approx(reference_apgr, abs=1e-9)


def test_cpt_matches_interp_on_monotone_curve() -> None:
    rng = np.random.default_rng(5)
    n = 1000
    strong = rng.random(n) < 0.8
    weak = strong & (rng.random(n) < 0.6)
    scores = rng.random(n)

    # The weak model is never right where the strong one is wrong, so quality only rises with share.
    reference_curve, _ = routellm_reference(scores, strong, weak)
    curve = quality_curve(scores, strong, weak)

    for fraction in (0.2, 0.5, 0.8):
        target = (fraction * (strong.mean() - weak.mean()) + weak.mean()) * 100
        expected = np.interp(target, reference_curve["accuracy"], reference_curve["strong_percentage"]) / 100
        assert cpt(curve, fraction, strong.mean(), weak.mean()) == pytest.approx(expected, abs=1e-9)


def test_cpt_rejects_fraction_outside_range() -> None:
    curve = [CurvePoint(1.0, 0.0, 0.5), CurvePoint(0.0, 1.0, 0.7)]

    with pytest.raises(InputError, match="fraction"):
        cpt(curve, 1.5, 0.7, 0.5)


def test_apgr_rejects_equal_means() -> None:
    curve = [CurvePoint(1.0, 0.0, 0.5), CurvePoint(0.0, 1.0, 0.5)]

    with pytest.raises(InputError, match="same mean quality"):
        apgr(curve, 0.5, 0.5)


def test_mismatched_lengths_rejected() -> None:
    with pytest.raises(InputError, match="one value per prompt"):
        quality_curve([0.1, 0.2], [True], [False, True])


def test_nan_scores_rejected() -> None:
    with pytest.raises(InputError, match="NaN"):
        quality_curve([0.1, float("nan")], [True, True], [False, False])


def test_bootstrap_ci_brackets_estimate() -> None:
    rng = np.random.default_rng(6)
    n = 2000
    strong = rng.random(n) < 0.8
    weak = rng.random(n) < 0.5
    scores = (strong & ~weak) + rng.normal(0.0, 0.8, size=n)

    estimate = router_apgr(scores, strong, weak)
    interval = bootstrap_ci(scores, strong, weak)

    assert interval.low < estimate < interval.high
    assert interval.high - interval.low < 0.2
    assert bootstrap_ci(scores, strong, weak) == interval


def test_bootstrap_ci_fast_on_mmlu_size() -> None:
    rng = np.random.default_rng(7)
    n = 14_000
    strong = rng.random(n) < 0.8
    weak = rng.random(n) < 0.6
    scores = rng.random(n)

    started = time.perf_counter()
    bootstrap_ci(scores, strong, weak, resamples=200)
    elapsed = time.perf_counter() - started

    assert elapsed < 10.0


def test_bootstrap_ci_on_tied_scores() -> None:
    rng = np.random.default_rng(8)
    strong = rng.random(72) < 0.8
    weak = rng.random(72) < 0.4

    interval = bootstrap_ci(np.zeros(72), strong, weak)

    assert interval.low == pytest.approx(0.5)
    assert interval.high == pytest.approx(0.5)
