"""The evaluation benchmarks: decontaminated prompts with both models' per-prompt quality.

RouteLLM's recordings give held-out MMLU subjects, GSM8K and MT-Bench turn 1,
with GPT-4-1106 as the strong and Mixtral-8x7B as the weak model. RouterBench's
0-shot test split gives ARC-Challenge, MBPP and Winogrande for the same pair,
with the dollar cost billed for each answer.

A benchmark keeps two texts per prompt: `prompts`, sent to the models, and
`routing_texts`, scored by the router. They differ only on RouterBench ARC and
Winogrande, whose prompts start with a shared few-shot prefix of about 1,500
characters: a 256-token embedder would see the same prefix for every prompt,
so the router scores the final question block instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybrid.errors import DataError
from hybrid.replay.data import RecordedItem, load_gsm8k, load_mmlu, load_mt_bench
from hybrid.training import EXCLUDED_MMLU_DOMAINS, HELD_OUT_MMLU_DOMAINS

__all__ = [
    "BENCHMARK_NAMES",
    "EXCLUDED_MMLU_DOMAINS",
    "HELD_OUT_MMLU_DOMAINS",
    "EvalSet",
    "final_question_block",
    "load_eval_sets",
    "load_routerbench_sets",
    "load_routellm_sets",
]

logger = logging.getLogger("hybrid.evaluation.datasets")

MMLU_HELD_OUT = "mmlu_held_out"
MMLU_WITH_EXCLUDED = "mmlu_held_out_with_hs_math"
GSM8K = "gsm8k"
MT_BENCH = "mt_bench"
ROUTERBENCH_PREFIX = "routerbench_"
ROUTERBENCH_BENCHMARKS = ("arc-challenge", "mbpp", "winogrande")
# RouterBench benchmarks whose prompts begin with the shared few-shot prefix.
FEW_SHOT_BENCHMARKS = ("arc-challenge", "winogrande")

BENCHMARK_NAMES = (
    MMLU_HELD_OUT,
    MMLU_WITH_EXCLUDED,
    GSM8K,
    MT_BENCH,
    *(ROUTERBENCH_PREFIX + name for name in ROUTERBENCH_BENCHMARKS),
)

ACCURACY = "accuracy"
MT_BENCH_SCORE = "mean GPT-4 score (1-10)"


@dataclass(frozen=True)
class EvalSet:
    """One benchmark's prompts and both models' quality, one entry per prompt.

    `strong_cost_usd` and `weak_cost_usd` are the recorded bills where the data
    has them (RouterBench); elsewhere they are None and the harness prices the
    answers with the configured models. `items` are the loader's records, which
    the hybrid replay needs.
    """

    name: str
    prompts: list[str]
    routing_texts: list[str]
    strong_quality: np.ndarray
    weak_quality: np.ndarray
    quality_metric: str
    categories: list[str | None]
    strong_cost_usd: np.ndarray | None = None
    weak_cost_usd: np.ndarray | None = None
    items: Sequence[object] = field(default=(), repr=False)

    @property
    def size(self) -> int:
        """Number of prompts."""
        return len(self.prompts)

    @property
    def has_answers(self) -> bool:
        """Whether the recording contains answer text, which the hybrid pipeline replay needs."""
        return self.name not in (MMLU_HELD_OUT, MMLU_WITH_EXCLUDED)


def final_question_block(prompt: str) -> str:
    """Return the text after the last blank line, the question of a few-shot prompt."""
    block = prompt.rsplit("\n\n", 1)[-1].strip()
    return block or prompt


def load_routellm_sets(data_dir: Path, *, held_out_domains: Sequence[str] = HELD_OUT_MMLU_DOMAINS,
                       benchmarks: Sequence[str] = (MMLU_HELD_OUT, MMLU_WITH_EXCLUDED, GSM8K, MT_BENCH)) -> list[EvalSet]:
    """Load held-out MMLU (without and with high-school maths), GSM8K and MT-Bench turn 1, decontaminated.

    Only the named `benchmarks` are read, so a folder without MMLU files serves GSM8K and MT-Bench.
    """
    sets = []
    if MMLU_HELD_OUT in benchmarks or MMLU_WITH_EXCLUDED in benchmarks:
        held_out = [item for item in load_mmlu(data_dir, list(held_out_domains)) if not item.contaminated]
        excluded = [item for item in load_mmlu(data_dir, list(EXCLUDED_MMLU_DOMAINS)) if not item.contaminated]
        sets += [_routellm_set(MMLU_HELD_OUT, held_out), _routellm_set(MMLU_WITH_EXCLUDED, held_out + excluded)]
    if GSM8K in benchmarks:
        sets.append(_routellm_set(GSM8K, [item for item in load_gsm8k(data_dir) if not item.contaminated]))
    if MT_BENCH in benchmarks:
        sets.append(_routellm_set(MT_BENCH, [item for item in load_mt_bench(data_dir) if not item.contaminated]))
    return sets


def load_routerbench_sets(data_dir: Path, *, split: str = "test") -> list[EvalSet]:
    """Load RouterBench ARC-Challenge, MBPP and Winogrande for GPT-4-1106 against Mixtral-8x7B, with recorded costs."""
    from hybrid.replay import router_bench

    models = [router_bench.STRONG_MODEL, router_bench.WEAK_MODEL]
    sets = []
    for benchmark in ROUTERBENCH_BENCHMARKS:
        items = router_bench.load_routerbench(data_dir, split=split, models=models, benchmarks=[benchmark])
        if not items:
            raise DataError(f"RouterBench {split} split has no {benchmark} rows in {data_dir}")

        few_shot = benchmark in FEW_SHOT_BENCHMARKS
        sets.append(EvalSet(
            name=ROUTERBENCH_PREFIX + benchmark,
            prompts=[item.prompt for item in items],
            routing_texts=[final_question_block(item.prompt) if few_shot else item.prompt for item in items],
            strong_quality=np.array([float(item.correct[router_bench.STRONG_MODEL]) for item in items]),
            weak_quality=np.array([float(item.correct[router_bench.WEAK_MODEL]) for item in items]),
            quality_metric=ACCURACY,
            categories=[benchmark] * len(items),
            strong_cost_usd=np.array([item.cost_usd[router_bench.STRONG_MODEL] for item in items]),
            weak_cost_usd=np.array([item.cost_usd[router_bench.WEAK_MODEL] for item in items]),
            items=items,
        ))
    return sets


def load_eval_sets(routellm_dir: Path | None, routerbench_dir: Path | None,
                   benchmarks: Sequence[str] = BENCHMARK_NAMES) -> list[EvalSet]:
    """Load the named benchmarks from whichever folders are given, in `BENCHMARK_NAMES` order."""
    unknown = [name for name in benchmarks if name not in BENCHMARK_NAMES]
    if unknown:
        raise DataError(f"unknown benchmarks {unknown}; use names from {list(BENCHMARK_NAMES)}")

    sets: list[EvalSet] = []
    if routellm_dir is not None and any(not name.startswith(ROUTERBENCH_PREFIX) for name in benchmarks):
        sets += load_routellm_sets(routellm_dir, benchmarks=benchmarks)
    if routerbench_dir is not None and any(name.startswith(ROUTERBENCH_PREFIX) for name in benchmarks):
        sets += load_routerbench_sets(routerbench_dir)

    chosen = [dataset for dataset in sets if dataset.name in benchmarks]
    if not chosen:
        raise DataError(
            f"none of the benchmarks {list(benchmarks)} could be loaded; pass --data for the RouteLLM recordings "
            "and --routerbench for the RouterBench 0-shot folder"
        )
    return chosen


def _routellm_set(name: str, items: list[RecordedItem]) -> EvalSet:
    if not items:
        raise DataError(f"benchmark {name} has no prompts left after decontamination")

    scored = items[0].strong_correct is None
    if scored:
        strong = np.array([_value(item, item.strong_score) for item in items])
        weak = np.array([_value(item, item.weak_score) for item in items])
    else:
        strong = np.array([float(_value(item, item.strong_correct)) for item in items])
        weak = np.array([float(_value(item, item.weak_correct)) for item in items])

    return EvalSet(
        name=name,
        prompts=[item.prompt for item in items],
        routing_texts=[item.prompt for item in items],
        strong_quality=strong,
        weak_quality=weak,
        quality_metric=MT_BENCH_SCORE if scored else ACCURACY,
        categories=[item.category for item in items],
        items=items,
    )


def _value(item: RecordedItem, value: object) -> float:
    if value is None:
        raise DataError(f"{item.benchmark} item {item.item_id} has no correctness flag or judge score")
    return float(value)  # type: ignore[arg-type]
