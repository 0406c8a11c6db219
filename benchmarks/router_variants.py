"""Held-out APGR of router variants that try to reach RouteLLM's published `mf` figures without a key.

Run from the repository root, with the recorded data next to it:

    python benchmarks/router_variants.py --data ../shared/data/routellm-evals

Every variant is one L2-regularised logistic regression on wordllama embeddings,
fitted in memory (nothing is saved), and scored with the same APGR code and
bootstrap as `hybrid eval`. Training data are the training MMLU subjects of
`hybrid.training`. The cross-benchmark variants add another benchmark's prompts,
and a benchmark is never scored by a variant that trained on it. The output is
the table in docs/router.md, "Why the target is out of reach for this family".
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = {"mmlu_held_out": 0.597, "gsm8k": 0.565, "mt_bench": 0.802}
# In `extra_training`: GSM8K and MT-Bench except the one being scored, so each benchmark gets its own fit.
OTHERS = "others"


@dataclass(frozen=True)
class Variant:
    """One router recipe: a label rule, the length feature's weight multiplier, L2, and extra training sets."""

    name: str
    label: str
    l2: float = 10.0
    length_scale: float = 1.0
    extra_training: tuple[str, ...] = ()


VARIANTS = (
    Variant("shipped: ties count as weak wins", "ties_weak"),
    Variant("the weak model fails", "weak_fails"),
    Variant("strong gain, ties = 0.5", "gain"),
    Variant("ties weak, length weight x1.5", "ties_weak", length_scale=1.5),
    Variant("ties weak, length weight x2", "ties_weak", length_scale=2.0),
    Variant("ties weak, L2 = 100", "ties_weak", l2=100.0),
    Variant("ties weak, + GSM8K training", "ties_weak", extra_training=("gsm8k",)),
    Variant("ties weak, + MT-Bench training", "ties_weak", extra_training=("mt_bench",)),
    Variant("ties weak, + the other two benchmarks", "ties_weak", extra_training=(OTHERS,)),
    Variant("ties weak, length x1.5, + other two", "ties_weak", length_scale=1.5, extra_training=(OTHERS,)),
    Variant("strong gain, + the other two benchmarks", "gain", extra_training=(OTHERS,)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "routellm-evals")
    parser.add_argument("--json-out", type=Path, help="also write the results here")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from hybrid.embedders import make_embedder
    from hybrid.features import prompt_features
    from hybrid.training import HELD_OUT_MMLU_DOMAINS, load_evaluation_sets, training_domains, training_items

    evaluation_sets = {dataset.name: dataset for dataset in load_evaluation_sets(args.data, HELD_OUT_MMLU_DOMAINS)}
    items = training_items(args.data, training_domains(args.data), list(evaluation_sets.values()))
    embedder = make_embedder("wordllama")

    train_prompts = [item.prompt for item in items]
    train = _Rows(embedder.embed(train_prompts, progress=True), prompt_features(train_prompts, ["log_chars"]),
                  np.array([item.strong_correct for item in items], dtype=float),
                  np.array([item.weak_correct for item in items], dtype=float))
    scored = {
        name: _Rows(embedder.embed(dataset.prompts), prompt_features(dataset.prompts, ["log_chars"]),
                    _as_correct(name, dataset.strong_quality), _as_correct(name, dataset.weak_quality))
        for name, dataset in evaluation_sets.items()
    }

    results = []
    for variant in VARIANTS:
        row: dict[str, object] = {"variant": variant.name}
        for name, dataset in evaluation_sets.items():
            extra = _extra_training(variant, name)
            row[name] = None if name in extra else _apgr(_fit(variant, extra, train, scored)(name), dataset)
        results.append(row)

    _print_table(results, list(evaluation_sets))
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")


@dataclass(frozen=True)
class _Rows:
    embeddings: np.ndarray
    log_chars: np.ndarray
    strong: np.ndarray
    weak: np.ndarray


def _as_correct(name: str, quality: np.ndarray) -> np.ndarray:
    # MT-Bench has 1-10 grades, not correctness, so a grade of 8 or more counts as correct for training.
    return (quality >= 8).astype(float) if name == "mt_bench" else quality.astype(float)


def _labels(label: str, strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    if label == "ties_weak":
        return strong * (1 - weak)
    if label == "weak_fails":
        return 1 - weak
    return (strong - weak + 1) / 2


def _extra_training(variant: Variant, scored_name: str) -> tuple[str, ...]:
    if OTHERS not in variant.extra_training:
        return variant.extra_training
    return tuple(name for name in ("gsm8k", "mt_bench") if name != scored_name)


def _fit(variant: Variant, extra: Sequence[str], train: _Rows, scored: dict[str, _Rows]) -> Callable[[str], np.ndarray]:
    from hybrid.logistic import fit_logistic

    parts = [train] + [scored[name] for name in extra]
    embeddings = np.vstack([part.embeddings for part in parts])
    lengths = np.vstack([part.log_chars for part in parts])
    labels = np.concatenate([_labels(variant.label, part.strong, part.weak) for part in parts])

    mean, scale = lengths.mean(axis=0), lengths.std(axis=0)
    weights, _ = fit_logistic(np.hstack([embeddings, (lengths - mean) / scale]), labels, l2=variant.l2)
    weights[-1] *= variant.length_scale

    def score(name: str) -> np.ndarray:
        rows = scored[name]
        return np.hstack([rows.embeddings, (rows.log_chars - mean) / scale]) @ weights

    return score


def _apgr(scores: np.ndarray, dataset: object) -> dict[str, float]:
    from hybrid.metrics import bootstrap_ci, router_apgr

    interval = bootstrap_ci(scores, dataset.strong_quality, dataset.weak_quality)
    return {"apgr": router_apgr(scores, dataset.strong_quality, dataset.weak_quality),
            "low": interval.low, "high": interval.high}


def _print_table(results: Sequence[dict[str, object]], benchmarks: Sequence[str]) -> None:
    print(f"{'variant':38}" + "".join(f"{name:>24}" for name in benchmarks))
    print(f"{'published mf':38}" + "".join(f"{PUBLISHED[name]:>24.3f}" for name in benchmarks))
    for row in results:
        cells = []
        for name in benchmarks:
            value = row[name]
            cells.append("trained on it" if value is None else f"{value['apgr']:.3f} ({value['low']:.3f}-{value['high']:.3f})")
        print(f"{row['variant']:38}" + "".join(f"{cell:>24}" for cell in cells))


if __name__ == "__main__":
    main()
