"""The cascade and parallel modes as single operating points beside the threshold curves of `hybrid eval`.

Neither mode has a threshold to sweep, so each gives one quality, one cost
and one share of calls per model instead of a curve, and APGR and CPT do not
apply. Both are replayed by `hybrid demo`'s code on the same recorded answers:
- GSM8K: the two-tier cascade, the weak model first and the strong model when
  the replay judge rejects the weak answer, on the decontaminated prompts;
- RouterBench: the three-tier cascade and parallel selection on the test
  splits of ARC-Challenge, MBPP and Winogrande together, with billed costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hybrid.predictor import Predictor
from hybrid.replay.demo import ROUTERBENCH, PolicyResult, run_demo
from hybrid.settings import HybridSettings

__all__ = ["ModePoint", "ModeSet", "evaluate_modes"]

GSM8K = "gsm8k"
ROUTERBENCH_MODES = ("cascade", "parallel")


@dataclass(frozen=True)
class ModePoint:
    """One mode run once over every prompt of a benchmark: quality, mean cost and per-model call shares."""

    method: str
    quality: float
    cost_per_prompt_usd: float | None
    cost_per_1k_usd: float | None
    strong_share: float
    # Per model: the share of prompts that called it, and the share it answered.
    call_share: dict[str, float] = field(default_factory=dict)
    answer_share: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ModeSet:
    """The mode points of one benchmark, with always-strong and always-weak replayed on the same prompts."""

    benchmark: str
    description: str
    prompts: int
    quality_metric: str
    strong_model: str
    strong_quality: float
    weak_quality: float
    strong_cost_per_1k_usd: float | None
    weak_cost_per_1k_usd: float | None
    points: list[ModePoint]


def evaluate_modes(settings: HybridSettings, *, routellm_dir: Path | None, routerbench_dir: Path | None,
                   predictor: Predictor | None = None, seed: int = 0) -> list[ModeSet]:
    """Replay the GSM8K cascade when `routellm_dir` is given and the RouterBench modes when `routerbench_dir` is.

    `predictor` only scores the demo's router-only and hybrid rows, which are
    discarded. It defaults to the configured one.
    """
    # NOTE: the GSM8K cascade's judge follows the recorded correctness labels, so `hybrid eval`'s
    # --judge-false-accept and --judge-false-reject change the hybrid curve but not this point.
    sets = []
    if routellm_dir is not None:
        rows = run_demo(settings, routellm_dir, benchmarks=(GSM8K,), cascade=True, predictor=predictor,
                        progress=False)
        sets.append(_mode_set(GSM8K, "two-tier cascade, weak then strong", rows, settings.strong_model, ("cascade",)))
    if routerbench_dir is not None:
        from hybrid.replay import router_bench

        rows = run_demo(settings, routerbench_dir, benchmarks=(), routerbench_dir=routerbench_dir, seed=seed)
        tiers = ", ".join(router_bench.DEFAULT_TIERS)
        description = (f"ARC-Challenge, MBPP and Winogrande test splits together, with the three-tier cascade and "
                       f"parallel selection over {tiers}")
        sets.append(_mode_set(ROUTERBENCH, description, rows, router_bench.STRONG_MODEL, ROUTERBENCH_MODES))
    return sets


def _mode_set(benchmark: str, description: str, rows: Sequence[PolicyResult], strong_model: str,
              modes: Sequence[str]) -> ModeSet:
    by_policy = {row.policy: row for row in rows if row.benchmark == benchmark}
    strong, weak = by_policy["always-strong"], by_policy["always-weak"]
    return ModeSet(
        benchmark=benchmark,
        description=description,
        prompts=strong.prompts,
        quality_metric=strong.quality_metric,
        strong_model=strong_model,
        strong_quality=strong.quality,
        weak_quality=weak.quality,
        strong_cost_per_1k_usd=strong.cost_per_1k_usd,
        weak_cost_per_1k_usd=weak.cost_per_1k_usd,
        points=[_point(by_policy[mode]) for mode in modes],
    )


def _point(row: PolicyResult) -> ModePoint:
    return ModePoint(
        method=row.policy,
        quality=row.quality,
        cost_per_prompt_usd=None if row.cost_usd is None else row.cost_usd / row.prompts,
        cost_per_1k_usd=row.cost_per_1k_usd,
        strong_share=row.strong_share,
        call_share=dict(row.call_share),
        answer_share=dict(row.answer_share),
    )
