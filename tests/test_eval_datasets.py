"""Benchmarks, embedding cache and replayed outcomes of hybrid.evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from hybrid.errors import DataError
from hybrid.evaluation.datasets import final_question_block, load_eval_sets
from hybrid.evaluation.embedding_cache import CachedEmbedder
from hybrid.evaluation.replay import JudgeNoise, replay_outcomes
from hybrid.settings import load_settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROUTELLM = SHARED / "routellm-evals"
ROUTERBENCH = SHARED / "routerbench-0shot"
needs_data = pytest.mark.skipif(not (ROUTELLM.is_dir() and ROUTERBENCH.is_dir()), reason="shared data not found")


class CountingEmbedder:
    """A deterministic embedder that records every batch it is asked to embed."""

    name = "counting"
    dim = 3

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(text), text.count("a"), 1.0] for text in texts], dtype=float)


def test_final_question_block() -> None:
    prompt = "Q: 1+1?\nAnswer:\n2\n\nQ: 2+2?\nAnswer:\n4\n\nQ: 3+3?\nAnswer:"

    assert final_question_block(prompt) == "Q: 3+3?\nAnswer:"
    assert final_question_block("no blank line") == "no blank line"
    assert final_question_block("text\n\n") == "text\n\n"


@needs_data
def test_benchmark_sizes_after_decontamination() -> None:
    sets = {dataset.name: dataset for dataset in load_eval_sets(ROUTELLM, ROUTERBENCH)}

    assert {name: dataset.size for name, dataset in sets.items()} == {
        "mmlu_held_out": 2472,
        "mmlu_held_out_with_hs_math": 2742,
        "gsm8k": 1307,
        "mt_bench": 72,
        "routerbench_arc-challenge": 439,
        "routerbench_mbpp": 128,
        "routerbench_winogrande": 380,
    }
    assert sets["mt_bench"].strong_quality.mean() == pytest.approx(9.3819, abs=1e-4)
    assert sets["routerbench_mbpp"].strong_cost_usd is not None
    assert sets["gsm8k"].strong_cost_usd is None


@needs_data
def test_routerbench_routes_on_final_question() -> None:
    arc = load_eval_sets(None, ROUTERBENCH, ["routerbench_arc-challenge"])[0]

    prefixes = {text[:200] for text in arc.prompts}
    assert len(prefixes) < 5  # the prompts share a long few-shot prefix
    assert all(len(routed) < len(prompt) for routed, prompt in zip(arc.routing_texts, arc.prompts))
    assert all(prompt.endswith(routed) for routed, prompt in zip(arc.routing_texts, arc.prompts))


def test_unknown_benchmark_rejected() -> None:
    with pytest.raises(DataError, match="unknown benchmarks"):
        load_eval_sets(None, None, ["hellaswag"])


def test_cache_embeds_each_prompt_once(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, tmp_path)

    first = cached.embed(["a", "bb", "a"])
    again = CachedEmbedder(inner, tmp_path).embed(["bb", "a", "ccc"])

    assert inner.calls == [["a", "bb"], ["ccc"]]
    np.testing.assert_array_equal(first, [[1, 1, 1], [2, 0, 1], [1, 1, 1]])
    np.testing.assert_array_equal(again, [[2, 0, 1], [1, 1, 1], [3, 0, 1]])


def test_cache_rejects_other_dimension(tmp_path: Path) -> None:
    CachedEmbedder(CountingEmbedder(), tmp_path).embed(["x"])
    wider = CountingEmbedder()
    wider.dim = 4

    with pytest.raises(DataError, match="delete"):
        CachedEmbedder(wider, tmp_path)


@needs_data
def test_replayed_weak_path_follows_labels() -> None:
    mt_bench = load_eval_sets(ROUTELLM, None, ["mt_bench"])[0]

    outcomes = replay_outcomes(load_settings(), mt_bench, mt_bench_cut=8.0)

    # The replay judge accepts a weak answer graded 8 or more; otherwise the strong model answers.
    accepted = mt_bench.weak_quality >= 8.0
    np.testing.assert_array_equal(outcomes.weak_path.quality, np.where(accepted, mt_bench.weak_quality, mt_bench.strong_quality))
    np.testing.assert_array_equal(outcomes.weak_path.strong_calls, (~accepted).astype(float))
    np.testing.assert_array_equal(outcomes.strong.quality, mt_bench.strong_quality)
    assert outcomes.accept_rate == pytest.approx(accepted.mean())
    assert np.all(outcomes.weak_path.cost_usd > outcomes.weak.cost_usd)  # the judge call costs something
    assert np.all(outcomes.strong.cost_usd > outcomes.weak.cost_usd)


@needs_data
def test_judge_noise_flips_verdicts() -> None:
    mbpp = load_eval_sets(None, ROUTERBENCH, ["routerbench_mbpp"])[0]

    exact = replay_outcomes(load_settings(), mbpp)
    noisy = replay_outcomes(load_settings(), mbpp, noise=JudgeNoise(false_accept=1.0, false_reject=0.0))

    # A judge that accepts every weak answer returns the weak answer everywhere.
    assert exact.accept_rate == pytest.approx(mbpp.weak_quality.mean())
    assert noisy.accept_rate == 1.0
    np.testing.assert_array_equal(noisy.weak_path.quality, mbpp.weak_quality)
    np.testing.assert_array_equal(noisy.weak_path.strong_calls, np.zeros(mbpp.size))


def test_judge_noise_rejects_bad_rate() -> None:
    with pytest.raises(ValueError, match="false-accept rate 1.5"):
        JudgeNoise(false_accept=1.5)
