"""`hybrid eval`: every routing method side by side on the recorded benchmarks.

Methods, each scored on the same prompts with the same bootstrap resamples:
- `random`: uniformly random scores, the no-skill reference;
- one row per local router variant, on the prompts' routing texts;
- `hybrid (<router>)`: the real pipeline on recorded answers, with the replay
  judge and the fallback, routed by the first router variant;
- `oracle`: routes exactly the prompts where the strong answer is better, an
  upper bound no router reaches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from hybrid.evaluation.curves import (
    CurveRows,
    Interval,
    MethodMetrics,
    Outcome,
    compute_curves,
    method_metrics,
    random_spread,
)
from hybrid.evaluation.datasets import EvalSet
from hybrid.evaluation.replay import JudgeNoise, ReplayOutcomes, replay_outcomes
from hybrid.predictor import Predictor
from hybrid.settings import HybridSettings

__all__ = ["BenchmarkResult", "CurvePointRecord", "EvalOptions", "MethodResult", "evaluate"]

logger = logging.getLogger("hybrid.evaluation")

RANDOM = "random"
ORACLE = "oracle"
HYBRID_PREFIX = "hybrid"


@dataclass(frozen=True)
class EvalOptions:
    """Options of `evaluate`: bootstrap size, seed, the hybrid replay and its judge."""

    resamples: int = 1000
    seed: int = 0
    hybrid: bool = True
    judge_noise: JudgeNoise = field(default_factory=JudgeNoise)
    mt_bench_cut: float | None = None


@dataclass(frozen=True)
class CurvePointRecord:
    """One point of a method's curve: strong-call share, quality and mean cost per 1,000 prompts (USD)."""

    strong_share: float
    quality: float
    cost_per_1k_usd: float | None


@dataclass(frozen=True)
class MethodResult:
    """One method on one benchmark: its metrics, its curve, and how its APGR compares with random's spread."""

    method: str
    kind: str
    metrics: MethodMetrics
    curve: list[CurvePointRecord]
    above_random: bool


@dataclass(frozen=True)
class BenchmarkResult:
    """Every method on one benchmark, with both models' quality and cost and a random router's spread."""

    benchmark: str
    prompts: int
    quality_metric: str
    strong_quality: float
    weak_quality: float
    strong_cost_per_1k_usd: float | None
    weak_cost_per_1k_usd: float | None
    cost_source: str | None
    random_spread: Interval
    judge_accept_rate: float | None
    methods: list[MethodResult]


def evaluate(datasets: Sequence[EvalSet], routers: Mapping[str, Predictor], settings: HybridSettings,
             options: EvalOptions = EvalOptions(), *, progress: bool = True) -> list[BenchmarkResult]:
    """Score random, every router in `routers`, the hybrid pipeline and the oracle on each benchmark."""
    results = []
    for dataset in datasets:
        logger.info("evaluating %s (%d prompts)", dataset.name, dataset.size)
        win_rates = {
            name: np.asarray(predictor.win_rates(dataset.routing_texts, progress=progress), dtype=np.float64)
            for name, predictor in tqdm(routers.items(), desc=f"scoring {dataset.name}", unit="router",
                                        disable=not progress or len(routers) < 2)
        }
        replay = None
        if options.hybrid and dataset.has_answers and routers:
            replay = replay_outcomes(settings, dataset, noise=options.judge_noise, mt_bench_cut=options.mt_bench_cut,
                                     progress=progress)
        results.append(_evaluate_one(dataset, win_rates, replay, options))
    return results


def _evaluate_one(dataset: EvalSet, win_rates: Mapping[str, np.ndarray], replay: ReplayOutcomes | None,
                  options: EvalOptions) -> BenchmarkResult:
    strong, weak, cost_source = _reference_outcomes(dataset, replay)
    spread = random_spread(strong, weak, seed=options.seed)

    candidates: list[tuple[str, str, np.ndarray, Outcome, Outcome]] = []
    rng = np.random.default_rng(options.seed)
    candidates.append((RANDOM, "baseline", rng.uniform(size=dataset.size), strong, weak))
    for name, rates in win_rates.items():
        candidates.append((name, "router", rates, strong, weak))
    if replay is not None:
        name, rates = next(iter(win_rates.items()))
        candidates.append((f"{HYBRID_PREFIX} ({name})", "hybrid", rates, replay.strong, replay.weak_path))
    candidates.append((ORACLE, "oracle", _oracle_scores(dataset, rng), strong, weak))

    methods = []
    for name, kind, scores, routed, other in candidates:
        metrics = method_metrics(scores, routed, other, strong, weak, resamples=options.resamples, seed=options.seed)
        curve = compute_curves(scores, routed, other, strong, weak)
        methods.append(MethodResult(
            method=name,
            kind=kind,
            metrics=metrics,
            curve=_points(curve),
            above_random=bool(metrics.apgr.low > spread.high),
        ))

    return BenchmarkResult(
        benchmark=dataset.name,
        prompts=dataset.size,
        quality_metric=dataset.quality_metric,
        strong_quality=float(dataset.strong_quality.mean()),
        weak_quality=float(dataset.weak_quality.mean()),
        strong_cost_per_1k_usd=_per_1k(strong.cost_usd),
        weak_cost_per_1k_usd=_per_1k(weak.cost_usd),
        cost_source=cost_source,
        random_spread=spread,
        judge_accept_rate=None if replay is None else replay.accept_rate,
        methods=methods,
    )


def _reference_outcomes(dataset: EvalSet, replay: ReplayOutcomes | None) -> tuple[Outcome, Outcome, str | None]:
    """Return always-strong and always-weak with their costs, and where the costs come from."""
    recorded = dataset.strong_cost_usd is not None and dataset.weak_cost_usd is not None
    if replay is not None and replay.strong.cost_usd is not None and replay.weak.cost_usd is not None:
        source = "recorded bills" if recorded else "configured model prices"
        return replay.strong, replay.weak, source

    strong = Outcome(dataset.strong_quality, dataset.strong_cost_usd, np.ones(dataset.size))
    weak = Outcome(dataset.weak_quality, dataset.weak_cost_usd, np.zeros(dataset.size))
    return strong, weak, "recorded bills" if recorded else None


def _oracle_scores(dataset: EvalSet, rng: np.random.Generator) -> np.ndarray:
    """Score each prompt by the strong answer's quality gain, with a random tie-break far below any gain."""
    gain = dataset.strong_quality - dataset.weak_quality
    return gain + 1e-6 * rng.uniform(size=dataset.size)


def _points(curve: CurveRows) -> list[CurvePointRecord]:
    costs = curve.cost_usd[0] if curve.cost_usd is not None else [None] * curve.strong_share.shape[1]
    return [
        CurvePointRecord(strong_share=float(share), quality=float(quality),
                         cost_per_1k_usd=None if cost is None else float(cost) * 1000)
        for share, quality, cost in zip(curve.strong_share[0], curve.quality[0], costs, strict=True)
    ]


def _per_1k(costs: np.ndarray | None) -> float | None:
    return None if costs is None else float(np.mean(costs)) * 1000
