"""Threshold calibration on labelled prompts, for the router alone and jointly with the judge cut."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hybrid.calibration import calibrate_hybrid, strong_share_at, threshold_for_quality, threshold_for_strong_share
from hybrid.errors import InputError


def labelled(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = np.round(rng.random(n), 2)  # rounded, so some win rates tie
    strong = (rng.random(n) < 0.5 + 0.4 * rates).astype(float)
    weak = (rng.random(n) < 0.8 - 0.5 * rates).astype(float)
    judge = np.clip(weak * 6 + rng.integers(0, 5, n), 1, 10).astype(float)
    return rates, strong, weak, judge


def brute_force_router(rates, strong, weak, strong_cost, weak_cost, target):
    best = None
    for threshold in [*np.unique(rates), 1.0 + 1e-9]:
        routed = rates >= threshold
        quality = np.where(routed, strong, weak).mean()
        cost = np.where(routed, strong_cost, weak_cost).mean()
        if quality >= target - 1e-12 and (best is None or (cost, -quality) < (best[1], -best[0])):
            best = (quality, cost)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_router_threshold_is_cheapest_reaching_target(seed: int) -> None:
    rates, strong, weak, _ = labelled(60, seed)
    rng = np.random.default_rng(seed + 10)
    strong_cost = rng.uniform(5, 10, 60)
    weak_cost = rng.uniform(0, 1, 60)
    target = (strong.mean() + weak.mean()) / 2 + 0.05

    result = threshold_for_quality(rates, strong, weak, target, strong_cost=strong_cost, weak_cost=weak_cost)
    expected_quality, expected_cost = brute_force_router(rates, strong, weak, strong_cost, weak_cost, target)

    routed = rates >= result.threshold
    assert result.quality == pytest.approx(np.where(routed, strong, weak).mean())
    assert result.cost == pytest.approx(np.where(routed, strong_cost, weak_cost).mean())
    assert result.strong_share == pytest.approx(routed.mean())
    assert result.cost == pytest.approx(expected_cost)
    assert result.quality == pytest.approx(expected_quality)


def test_router_cost_defaults_to_strong_share() -> None:
    rates, strong, weak, _ = labelled(80, 4)

    result = threshold_for_quality(rates, strong, weak, weak.mean())

    assert result.cost == pytest.approx(result.strong_share)
    assert result.quality >= weak.mean()


def test_unreachable_target_names_best_quality() -> None:
    rates, strong, weak, _ = labelled(30, 5)

    with pytest.raises(InputError, match="best possible"):
        threshold_for_quality(rates, strong, weak, 1.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_joint_calibration_matches_grid_search(seed: int) -> None:
    rates, strong, weak, judge = labelled(40, seed)
    strong_cost = np.full(40, 10.0)
    weak_cost = np.full(40, 1.0)
    judge_cost = np.full(40, 0.5)
    target = max(strong.mean(), weak.mean())

    result = calibrate_hybrid(rates, strong, weak, judge, target, strong_cost=strong_cost, weak_cost=weak_cost,
                              judge_cost=judge_cost)

    best = None
    for threshold, cut in itertools.product([*np.unique(rates), 1.0 + 1e-9], [*np.unique(judge), 11.0]):
        routed = rates >= threshold
        accepted = judge >= cut
        quality = np.where(routed, strong, np.where(accepted, weak, strong)).mean()
        cost = np.where(routed, 10.0, 1.0 + 0.5 + np.where(accepted, 0.0, 10.0)).mean()
        if quality >= target - 1e-12 and (best is None or (cost, -quality) < best):
            best = (cost, -quality)
    assert (result.cost, -result.quality) == pytest.approx(best)

    routed = rates >= result.threshold
    accepted = judge >= result.judge_cut
    assert result.quality == pytest.approx(np.where(routed, strong, np.where(accepted, weak, strong)).mean())
    assert result.strong_share == pytest.approx((routed | ~accepted).mean())


def test_perfect_judge_reaches_what_routing_cannot() -> None:
    rates, strong, weak, _ = labelled(200, 6)
    judge = weak * 9 + 1  # grades 10 for a correct weak answer, 1 for a wrong one
    # With a perfect judge, every wrong weak answer is replaced by the strong one.
    target = np.maximum(strong, weak).mean()

    hybrid = calibrate_hybrid(rates, strong, weak, judge, target)

    assert hybrid.quality == pytest.approx(target)
    assert 1.0 < hybrid.judge_cut <= 10.0
    assert hybrid.cost == pytest.approx(1.0 - weak.mean())  # one strong call per rejected weak answer
    with pytest.raises(InputError, match="best possible"):
        threshold_for_quality(rates, strong, weak, target)


def test_strong_share_at_threshold() -> None:
    rates = np.array([0.1, 0.4, 0.4, 0.9])

    assert strong_share_at(rates, 0.4) == 0.75
    assert strong_share_at(rates, 1.0) == 0.0
    assert threshold_for_strong_share(rates, 0.25) == 0.9


@pytest.mark.parametrize("bad", [-0.1, 1.2])
def test_threshold_outside_range_rejected(bad: float) -> None:
    with pytest.raises(InputError, match=f"threshold {bad!r} is outside"):
        strong_share_at([0.5], bad)


def test_win_rate_outside_range_rejected() -> None:
    with pytest.raises(InputError, match="win rate 1.5 at position 1"):
        threshold_for_quality([0.2, 1.5], [1, 1], [0, 0], 0.5)


def test_mismatched_labels_rejected() -> None:
    with pytest.raises(InputError, match="strong quality has 1 values"):
        threshold_for_quality([0.2, 0.5], [1], [0, 0], 0.5)
