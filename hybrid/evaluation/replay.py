"""Per-prompt outcomes of the real pipeline on recorded answers: costs, and the hybrid's weak path.

Each prompt is answered three times through `HybridRouter.aask` with replay
backends: in strong mode, in weak mode, and in hybrid mode with a predictor that
always routes weak, so the request takes the weak path (weak answer, judge,
fallback on a reject). A hybrid at any threshold then takes, per prompt, the
strong-mode outcome when the win rate reaches the threshold and the weak-path
outcome otherwise, so no threshold needs another replay.

Costs come from the decision records: the configured models' prices applied to
the recorded answers' token counts on RouteLLM's recordings, and the billed
costs on RouterBench. The weak path's cost includes the judge call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hybrid.sync import run_sync
from hybrid.backends import JudgeBackend, JudgeReply, Message
from hybrid.evaluation.curves import Outcome
from hybrid.evaluation.datasets import ROUTERBENCH_PREFIX, EvalSet
from hybrid.pipeline import HybridRouter
from hybrid.record import DecisionRecord, Mode, Stage
from hybrid.settings import HybridSettings

__all__ = ["JudgeNoise", "NoisyJudge", "ReplayOutcomes", "replay_outcomes"]

logger = logging.getLogger("hybrid.evaluation.replay")

CONCURRENCY = 32
# Stages that call the strong model.
STRONG_STAGES = (Stage.STRONG, Stage.FALLBACK)


@dataclass(frozen=True)
class JudgeNoise:
    """Judge error rates for the replay: the share of bad weak answers accepted and of good ones rejected."""

    false_accept: float = 0.0
    false_reject: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("false_accept", "false_reject"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"judge {name.replace('_', '-')} rate {value!r} is outside [0, 1]; pass a share such as 0.1")


@dataclass(frozen=True)
class ReplayOutcomes:
    """Always-strong, always-weak and the hybrid's weak path on one benchmark, prompt by prompt."""

    strong: Outcome
    weak: Outcome
    weak_path: Outcome
    accept_rate: float


class NoisyJudge:
    """A JudgeBackend that flips some of another judge's verdicts, chosen by a hash of the seed and the prompt.

    The inner replay judge's verdicts follow the recorded labels, so a flipped
    reject is a false accept and a flipped accept a false reject.
    """

    def __init__(self, inner: JudgeBackend, noise: JudgeNoise) -> None:
        self.inner = inner
        self.noise = noise
        self.model = inner.model

    async def judge(self, messages: list[Message], *, timeout: float) -> JudgeReply:
        reply = await self.inner.judge(messages, timeout=timeout)
        fields = json.loads(reply.raw)
        verdict = fields.get("verdict")
        rate = self.noise.false_reject if verdict == "accept" else self.noise.false_accept
        if rate <= 0.0 or verdict not in ("accept", "reject"):
            return reply

        question = str(messages[-1].get("content", ""))
        digest = hashlib.sha256(f"{self.noise.seed}\n{question}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= rate:
            return reply

        # Only the verdict changes: other fields, such as the nonce the pipeline checks, are kept.
        fields["verdict"] = "reject" if verdict == "accept" else "accept"
        fields["reason"] = "replay judge error drawn by the evaluation"
        raw = json.dumps(fields)
        return JudgeReply(raw=raw, model=reply.model, prompt_tokens=reply.prompt_tokens,
                          completion_tokens=reply.completion_tokens)


def replay_outcomes(settings: HybridSettings, dataset: EvalSet, *, noise: JudgeNoise = JudgeNoise(),
                    mt_bench_cut: float | None = None, progress: bool = False) -> ReplayOutcomes:
    """Replay every prompt of `dataset` in strong mode, weak mode and along the hybrid's weak path.

    `mt_bench_cut` is the lowest GPT-4 score (1-10) the replay judge accepts on MT-Bench.
    """
    from tqdm.auto import tqdm

    router, strong_model = _router(settings, dataset, noise, mt_bench_cut)

    with tqdm(total=3 * dataset.size, desc=f"replaying {dataset.name}", unit="request", disable=not progress) as bar:
        strong = _run(router, dataset.prompts, Mode.STRONG, bar.update)
        weak = _run(router, dataset.prompts, Mode.WEAK, bar.update)
        weak_path = _run(router, dataset.prompts, Mode.HYBRID, bar.update)

    accepted = sum(record.verdict == "accept" for record in weak_path)
    return ReplayOutcomes(
        strong=_outcome(dataset, strong, strong_model),
        weak=_outcome(dataset, weak, strong_model),
        weak_path=_outcome(dataset, weak_path, strong_model),
        accept_rate=accepted / len(weak_path),
    )


class _AlwaysWeak:
    """A predictor that scores every prompt 0, so the hybrid mode always takes the weak path."""

    name = "always-weak"
    default_threshold = 0.5

    def win_rates(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return np.zeros(len(texts))


def _router(settings: HybridSettings, dataset: EvalSet, noise: JudgeNoise,
            mt_bench_cut: float | None) -> tuple[HybridRouter, str]:
    if dataset.name.startswith(ROUTERBENCH_PREFIX):
        from hybrid.replay import router_bench

        recording = router_bench.RouterBenchRecording(dataset.items)  # type: ignore[arg-type]
        pair = (router_bench.WEAK_MODEL, router_bench.STRONG_MODEL)
        router = router_bench.routerbench_router(settings, recording, tiers=pair, candidates=pair, predictor=_AlwaysWeak())
        strong_model = router_bench.STRONG_MODEL
    else:
        from hybrid.replay.backends import JudgePolicy
        from hybrid.replay.data import Recording
        from hybrid.replay.router import replay_router

        policy = JudgePolicy() if mt_bench_cut is None else JudgePolicy(mt_bench_cut=mt_bench_cut)
        router = replay_router(settings, Recording(dataset.items), predictor=_AlwaysWeak(), policy=policy)  # type: ignore[arg-type]
        strong_model = router.strong.model

    router.judge = NoisyJudge(router.judge, noise)
    return router, strong_model


def _run(router: HybridRouter, prompts: list[str], mode: Mode, done: Callable[[int], object]) -> list[DecisionRecord]:
    async def run_all() -> list[DecisionRecord]:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(prompt: str) -> DecisionRecord:
            async with semaphore:
                record = (await router.aask(prompt, mode=mode.value, threshold=0.5)).record
            done(1)
            return record

        return list(await asyncio.gather(*(one(prompt) for prompt in prompts)))

    return run_sync(run_all())


def _outcome(dataset: EvalSet, records: list[DecisionRecord], strong_model: str) -> Outcome:
    answered_strong = np.array([record.final_model == strong_model for record in records])
    quality = np.where(answered_strong, dataset.strong_quality, dataset.weak_quality)
    strong_calls = np.array([sum(stage.stage in STRONG_STAGES for stage in record.stages) for record in records],
                            dtype=np.float64)

    costs = [record.total_cost_usd for record in records]
    cost = None if any(value is None for value in costs) else np.array(costs, dtype=np.float64)
    if cost is None:
        logger.warning("%s: some replayed calls have no known price, so dollar curves are left out", dataset.name)
    return Outcome(quality=quality, cost_usd=cost, strong_calls=strong_calls)
