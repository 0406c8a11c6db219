"""`hybrid demo`: always-weak, always-strong, router-only and hybrid, compared on recorded answers."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path

from hybrid.decision_log import DecisionLog
from hybrid.predictor import CachedPredictor, Predictor, build_predictor
from hybrid.record import DecisionRecord, Mode, Stage, Verdict
from hybrid.replay.backends import JudgePolicy
from hybrid.replay.data import RecordedItem, Recording, load_gsm8k, load_mt_bench
from hybrid.replay.router import replay_router
from hybrid.settings import HybridSettings

__all__ = ["BENCHMARKS", "POLICIES", "PolicyResult", "run_demo"]

BENCHMARKS = ("gsm8k", "mt-bench")
# Demo policy name -> pipeline mode.
POLICIES = {"always-weak": Mode.WEAK, "always-strong": Mode.STRONG, "router-only": Mode.ROUTER, "hybrid": Mode.HYBRID}
CONCURRENCY = 32


@dataclass(frozen=True)
class PolicyResult:
    """One benchmark under one policy. Rates are fractions of the benchmark's prompts."""

    benchmark: str
    policy: str
    prompts: int
    strong_share: float
    accept_rate: float | None
    fallback_rate: float
    quality: float
    quality_metric: str
    cost_usd: float | None
    cost_per_1k_usd: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_demo(
    settings: HybridSettings,
    data_dir: Path,
    *,
    benchmarks: tuple[str, ...] = BENCHMARKS,
    threshold: float | None = None,
    policy: JudgePolicy | None = None,
    log_path: Path | None = None,
    progress: bool = True,
    predictor: Predictor | None = None,
) -> list[PolicyResult]:
    """Replay every decontaminated prompt of each benchmark under every policy.

    `predictor` defaults to the configured one; pass a CachedPredictor to reuse
    win rates across runs.
    """
    items_by_benchmark = {name: _load(name, data_dir) for name in benchmarks}
    recording_items = [item for items in items_by_benchmark.values() for item in items]

    recording = Recording(recording_items)
    if not isinstance(predictor, CachedPredictor):
        predictor = CachedPredictor(predictor or build_predictor(settings))
    predictor.prefill([item.prompt for item in recording_items], progress=progress)
    log = DecisionLog(log_path) if log_path is not None else None
    router = replay_router(settings, recording, predictor=predictor, policy=policy, log=log)

    results = []
    for name, items in items_by_benchmark.items():
        for policy_name, mode in POLICIES.items():
            records = asyncio.run(_replay(router, items, mode, threshold))
            results.append(_summarise(name, policy_name, items, records))
    return results


def _load(name: str, data_dir: Path) -> list[RecordedItem]:
    loaders = {"gsm8k": load_gsm8k, "mt-bench": load_mt_bench}
    if name not in loaders:
        raise ValueError(f"unknown benchmark {name!r}; use one of {sorted(loaders)}")
    return [item for item in loaders[name](data_dir) if not item.contaminated]


async def _replay(router: object, items: list[RecordedItem], mode: Mode, threshold: float | None) -> list[DecisionRecord]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(item: RecordedItem) -> DecisionRecord:
        async with semaphore:
            answer = await router.aask(item.prompt, mode=mode.value, threshold=threshold)  # type: ignore[attr-defined]
            return answer.record

    return list(await asyncio.gather(*(one(item) for item in items)))


def _summarise(benchmark: str, policy: str, items: list[RecordedItem], records: list[DecisionRecord]) -> PolicyResult:
    count = len(items)
    strong_calls = 0
    quality_total = 0.0
    for item, record in zip(items, records, strict=True):
        final_stage = record.stages[-1].stage
        used_strong = final_stage in (Stage.STRONG, Stage.FALLBACK)
        strong_calls += any(stage.stage in (Stage.STRONG, Stage.FALLBACK) for stage in record.stages)
        quality_total += _quality(item, strong=used_strong)

    judged = [record for record in records if record.verdict is not None]
    accepted = sum(record.verdict is Verdict.ACCEPT for record in judged)
    costs = [record.total_cost_usd for record in records]
    cost = None if any(value is None for value in costs) else sum(value for value in costs if value is not None)

    return PolicyResult(
        benchmark=benchmark,
        policy=policy,
        prompts=count,
        strong_share=strong_calls / count,
        accept_rate=accepted / len(judged) if judged else None,
        fallback_rate=sum(record.fallback for record in records) / count,
        quality=quality_total / count,
        quality_metric="accuracy" if items[0].strong_correct is not None else "mean GPT-4 score (1-10)",
        cost_usd=cost,
        cost_per_1k_usd=None if cost is None else cost / count * 1000,
    )


def _quality(item: RecordedItem, *, strong: bool) -> float:
    correct = item.strong_correct if strong else item.weak_correct
    if correct is not None:
        return float(correct)
    score = item.strong_score if strong else item.weak_score
    return float(score or 0.0)
