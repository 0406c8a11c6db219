"""`hybrid demo`: the routing modes compared on recorded answers.

On the RouteLLM recordings, always-weak, always-strong, router-only and
hybrid, plus a two-tier cascade (the weak then the strong model) on GSM8K. On
the RouterBench test split, always-weak, always-strong, a three-tier cascade
and parallel selection, with the costs that were billed for each answer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hybrid.sync import run_sync
from hybrid.calibration import threshold_for_strong_share
from hybrid.decision_log import DecisionLog
from hybrid.pipeline import HybridRouter
from hybrid.predictor import CachedPredictor, Predictor, build_predictor
from hybrid.record import DecisionRecord, Mode, Stage, Verdict
from hybrid.replay.backends import JudgePolicy
from hybrid.replay.data import RecordedItem, Recording, load_gsm8k, load_mt_bench
from hybrid.replay.router import replay_router
from hybrid.settings import HybridSettings

__all__ = ["BENCHMARKS", "POLICIES", "ROUTERBENCH", "ROUTERBENCH_POLICIES", "PolicyResult", "run_demo"]

BENCHMARKS = ("gsm8k", "mt-bench")
ROUTERBENCH = "routerbench"
# Demo policy name -> pipeline mode.
POLICIES = {"always-weak": Mode.WEAK, "always-strong": Mode.STRONG, "router-only": Mode.ROUTER, "hybrid": Mode.HYBRID}
# Benchmarks that also get the two-tier cascade row when `cascade` is set.
CASCADE_BENCHMARKS = ("gsm8k",)
ROUTERBENCH_POLICIES = {"always-weak": Mode.WEAK, "always-strong": Mode.STRONG, "cascade": Mode.CASCADE,
                        "parallel": Mode.PARALLEL}
CONCURRENCY = 32


@dataclass(frozen=True)
class PolicyResult:
    """One benchmark under one policy. Rates are fractions of the benchmark's prompts."""

    benchmark: str
    policy: str
    prompts: int
    threshold: float | None
    strong_share: float
    accept_rate: float | None
    fallback_rate: float
    quality: float
    quality_metric: str
    cost_usd: float | None
    cost_per_1k_usd: float | None
    # Per model: the share of prompts that called it, and the share of prompts it answered.
    call_share: dict[str, float] = field(default_factory=dict)
    answer_share: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_demo(
    settings: HybridSettings,
    data_dir: Path,
    *,
    benchmarks: tuple[str, ...] = BENCHMARKS,
    threshold: float | None = None,
    strong_share: float | None = None,
    policy: JudgePolicy | None = None,
    log_path: Path | None = None,
    progress: bool = True,
    predictor: Predictor | None = None,
    cascade: bool = False,
    routerbench_dir: Path | None = None,
    seed: int = 0,
) -> list[PolicyResult]:
    """Replay every decontaminated prompt of each benchmark under every policy.

    With `strong_share`, each benchmark gets the threshold that sends that share
    of its own prompts to the strong model, computed from win rates alone; an
    explicit `threshold` wins over it. `predictor` defaults to the configured
    one; pass a CachedPredictor to reuse win rates across runs. `cascade` adds the two-tier cascade row to GSM8K.
    `routerbench_dir` adds the RouterBench rows, from its test split only.
    `seed` seeds the parallel shuffle when HYBRID_PARALLEL_SEED is unset, and
    the RouterBench judge's draw among correct candidates.
    """
    log = DecisionLog(log_path) if log_path is not None else None
    results = []

    if benchmarks:
        results += _run_routellm(settings, data_dir, benchmarks, threshold=threshold, strong_share=strong_share,
                                 policy=policy, log=log, progress=progress, predictor=predictor, cascade=cascade)
    if routerbench_dir is not None:
        results += _run_routerbench(settings, routerbench_dir, log=log, predictor=predictor, seed=seed)
    return results


def _run_routellm(settings: HybridSettings, data_dir: Path, benchmarks: tuple[str, ...], *, threshold: float | None,
                  strong_share: float | None, policy: JudgePolicy | None, log: DecisionLog | None, progress: bool, predictor: Predictor | None,
                  cascade: bool) -> list[PolicyResult]:
    items_by_benchmark = {name: _load(name, data_dir) for name in benchmarks}
    recording_items = [item for items in items_by_benchmark.values() for item in items]

    recording = Recording(recording_items)
    if not isinstance(predictor, CachedPredictor):
        predictor = CachedPredictor(predictor or build_predictor(settings))
    predictor.prefill([item.prompt for item in recording_items], progress=progress)
    router = replay_router(settings, recording, predictor=predictor, policy=policy, log=log)
    strong_model = router.strong.model

    results = []
    for name, items in items_by_benchmark.items():
        chosen = threshold
        if chosen is None and strong_share is not None:
            chosen = threshold_for_strong_share(predictor.win_rates([item.prompt for item in items]), strong_share)
        policies = dict(POLICIES)
        if cascade and name in CASCADE_BENCHMARKS:
            policies["cascade"] = Mode.CASCADE
        for policy_name, mode in policies.items():
            records = run_sync(_replay(router, [item.prompt for item in items], mode, chosen))
            quality = [_quality(item, strong=record.final_model == strong_model)
                       for item, record in zip(items, records, strict=True)]
            metric = "accuracy" if items[0].strong_correct is not None else "mean GPT-4 score (1-10)"
            results.append(_summarise(name, policy_name, records, quality, metric, strong_model))
    return results


def _run_routerbench(settings: HybridSettings, data_dir: Path, *, log: DecisionLog | None,
                     predictor: Predictor | None, seed: int) -> list[PolicyResult]:
    from hybrid.replay import router_bench

    models = list(dict.fromkeys([*router_bench.DEFAULT_TIERS, *router_bench.DEFAULT_CANDIDATES,
                                 router_bench.WEAK_MODEL, router_bench.STRONG_MODEL]))
    items = router_bench.load_routerbench(data_dir, split="test", models=models)
    recording = router_bench.RouterBenchRecording(items)
    # No RouterBench row routes, so the predictor is never called and need not be loaded.
    router = router_bench.routerbench_router(settings, recording, predictor=predictor or _NoPredictor(), log=log,
                                            seed=seed)

    results = []
    for policy_name, mode in ROUTERBENCH_POLICIES.items():
        records = run_sync(_replay(router, [item.prompt for item in items], mode, None))
        # Every replayed request returns an answer or raises, so final_model is set.
        quality = [float(item.correct[record.final_model or ""]) for item, record in zip(items, records, strict=True)]
        results.append(_summarise(ROUTERBENCH, policy_name, records, quality, "accuracy", router_bench.STRONG_MODEL))
    return results


class _NoPredictor:
    """A stand-in predictor for replays whose policies never route, which raises if it is ever called."""

    name = "none"
    default_threshold = 0.5

    def win_rates(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        raise RuntimeError("the RouterBench demo rows do not route, so no win rate should be requested")


def _load(name: str, data_dir: Path) -> list[RecordedItem]:
    loaders = {"gsm8k": load_gsm8k, "mt-bench": load_mt_bench}
    if name not in loaders:
        raise ValueError(f"unknown benchmark {name!r}; use one of {sorted(loaders)}")
    return [item for item in loaders[name](data_dir) if not item.contaminated]


async def _replay(router: HybridRouter, prompts: list[str], mode: Mode, threshold: float | None) -> list[DecisionRecord]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(prompt: str) -> DecisionRecord:
        async with semaphore:
            answer = await router.aask(prompt, mode=mode.value, threshold=threshold)
            return answer.record

    return list(await asyncio.gather(*(one(prompt) for prompt in prompts)))


def _summarise(benchmark: str, policy: str, records: list[DecisionRecord], quality: list[float], metric: str,
               strong_model: str) -> PolicyResult:
    """Summarise one policy's records; `quality` is the score of each record's final answer."""
    count = len(records)
    called: Counter[str] = Counter()
    for record in records:
        called.update({stage.model for stage in record.stages if stage.stage is not Stage.JUDGE})
    answered = Counter(record.final_model for record in records if record.final_model is not None)

    judged = [record for record in records if record.verdict is not None]
    accepted = sum(record.verdict is Verdict.ACCEPT for record in judged)
    costs = [record.total_cost_usd for record in records]
    cost = None if any(value is None for value in costs) else sum(value for value in costs if value is not None)

    return PolicyResult(
        benchmark=benchmark,
        policy=policy,
        prompts=count,
        threshold=records[0].threshold,
        strong_share=called[strong_model] / count,
        accept_rate=accepted / len(judged) if judged else None,
        fallback_rate=sum(record.fallback for record in records) / count,
        quality=sum(quality) / count,
        quality_metric=metric,
        cost_usd=cost,
        cost_per_1k_usd=None if cost is None else cost / count * 1000,
        call_share=_shares(called, count),
        answer_share=_shares(answered, count),
    )


def _shares(counts: Counter[str], total: int) -> dict[str, float]:
    return {model: counts[model] / total for model in sorted(counts)}


def _quality(item: RecordedItem, *, strong: bool) -> float:
    correct = item.strong_correct if strong else item.weak_correct
    if correct is not None:
        return float(correct)
    score = item.strong_score if strong else item.weak_score
    return float(score or 0.0)
