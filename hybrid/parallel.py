"""Parallel mode (best of N): every candidate model answers at once, and a judge picks the best answer.

Candidates that fail, time out or answer with empty text are excluded, and
the record says why. The judge sees the answering candidates under letter
labels in a shuffled order whose seed is recorded. With `swap`, it judges a
second time with the order reversed, and the two passes run concurrently.

The documented default is the strongest candidate, which is the last model in
the configured list that answered. It is returned when no judge pass names a
shown label, and the raw output is recorded. When two passes name different
candidates, the stronger of the two picks is returned, so a disagreement
never moves the answer below what either pass chose.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hybrid.backends import Completion, JudgeBackend, Message
from hybrid.errors import JudgeError, ModelNotFoundError, ProviderError
from hybrid.parallel_choice import LABELS, build_choice_messages, parse_choice
from hybrid.record import CandidateRecord, ChoiceReason, ExcludedCandidate, FallbackReason, JudgeChoice, Stage
from hybrid.settings import HybridSettings
from hybrid.strategy import StrategyTrace, TimedBackend, build_model_backend, call_model

__all__ = ["BestOfN", "request_seed"]

logger = logging.getLogger("hybrid.parallel")


@dataclass(frozen=True)
class _Answer:
    """A candidate that answered: its position in the configured list, and its completion."""

    rank: int
    completion: Completion


def request_seed(seed: int | None, question: str) -> int:
    """Return the shuffle seed of one request.

    With a configured seed, it is derived from that seed and the question, so
    one prompt always gets the same order while different prompts get
    different orders. Without one, it is random.
    """
    if seed is None:
        return secrets.randbits(63)
    digest = hashlib.sha256(f"{seed}\n{question}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class BestOfN:
    """Parallel routing: N candidates answer concurrently and a judge picks one."""

    def __init__(
        self,
        candidates: Sequence[TimedBackend],
        judge: JudgeBackend,
        *,
        judge_timeout: float,
        language: str = "en",
        concurrency: int = 4,
        swap: bool = False,
        seed: int | None = None,
    ) -> None:
        if not candidates:
            raise ValueError("parallel mode needs at least one candidate; set HYBRID_PARALLEL_MODELS")
        if len(candidates) > len(LABELS):
            raise ValueError(f"parallel mode takes at most {len(LABELS)} candidates, not {len(candidates)}")
        models = [candidate.model for candidate in candidates]
        if len(set(models)) < len(models):
            raise ValueError(f"parallel candidates {models} repeat a model; list each model once")
        self.candidates = list(candidates)
        self.judge = judge
        self.judge_timeout = judge_timeout
        self.language = language
        self.concurrency = concurrency
        self.swap = swap
        self.seed = seed

    @classmethod
    def from_settings(cls, settings: HybridSettings, judge: JudgeBackend, *,
                      candidates: Sequence[TimedBackend] | None = None) -> BestOfN:
        """Build it with the settings' options, over `candidates` or else the live HYBRID_PARALLEL_MODELS."""
        if candidates is None:
            candidates = [build_model_backend(settings, model, stage="parallel") for model in settings.parallel_models]
        return cls(
            candidates,
            judge,
            judge_timeout=settings.judge_timeout,
            language=settings.judge_language,
            concurrency=settings.parallel_concurrency,
            swap=settings.parallel_swap,
            seed=settings.parallel_seed,
        )

    @property
    def models(self) -> list[str]:
        return [candidate.model for candidate in self.candidates]

    async def run(self, messages: list[Message], question: str, trace: StrategyTrace) -> Completion:
        """Answer `messages` with the judge's pick, recording every call and the choice in `trace`."""
        answers = await self._collect(messages, trace)
        strongest = answers[-1]
        if len(answers) == 1:
            trace.note(candidates=[CandidateRecord(label="A", model=strongest.completion.model)],
                       choice_reason=ChoiceReason.ONLY_CANDIDATE)
            return strongest.completion

        seed = request_seed(self.seed, question)
        order = list(range(len(answers)))
        random.Random(seed).shuffle(order)
        passes = [order, order[::-1]] if self.swap else [order]

        first = [answers[position] for position in order]
        trace.note(parallel_seed=seed,
                   candidates=[CandidateRecord(label=LABELS[i], model=a.completion.model) for i, a in enumerate(first)])
        for label, answer in zip(LABELS, first, strict=False):
            trace.annotate(self._stage_index(trace, answer.completion.model), candidate=label)

        picks = await asyncio.gather(*(self._pick(question, [answers[p] for p in shown], trace) for shown in passes))
        choices = [choice for choice, _ in picks]
        trace.note(judge_choices=choices)
        return self._decide([pick for _, pick in picks], choices, strongest, trace).completion

    async def _collect(self, messages: list[Message], trace: StrategyTrace) -> list[_Answer]:
        """Run every candidate concurrently; return those that answered, in configured order."""
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(rank: int, slot: TimedBackend) -> _Answer | ExcludedCandidate:
            async with semaphore:
                try:
                    completion = await call_model(slot, messages, trace, Stage.CANDIDATE)
                except (ProviderError, ModelNotFoundError) as error:
                    if isinstance(error, ModelNotFoundError):
                        logger.error("configuration alarm: parallel candidate: %s; fix HYBRID_PARALLEL_MODELS", error)
                    return ExcludedCandidate(model=slot.model, reason=f"{type(error).__name__}: {error}")
            if not completion.text.strip():
                return ExcludedCandidate(model=slot.model, reason="the answer is empty")
            return _Answer(rank, completion)

        results = await asyncio.gather(*(one(rank, slot) for rank, slot in enumerate(self.candidates)))
        excluded = [result for result in results if isinstance(result, ExcludedCandidate)]
        answers = [result for result in results if isinstance(result, _Answer)]
        trace.note(excluded=excluded)

        if not answers:
            details = "; ".join(f"{item.model}: {item.reason}" for item in excluded)
            raise ProviderError(f"all {len(self.candidates)} parallel candidates failed ({details})",
                                stage="parallel", model=", ".join(self.models), setting="HYBRID_PARALLEL_MODELS")
        for item in excluded:
            logger.warning("parallel candidate %s excluded: %s", item.model, item.reason)
        return answers

    async def _pick(self, question: str, shown: list[_Answer], trace: StrategyTrace) -> tuple[JudgeChoice, _Answer | None]:
        """Run one judge pass over the candidates in the order shown; return its record and its pick."""
        order = [answer.completion.model for answer in shown]
        judge_messages = build_choice_messages(question, [answer.completion.text for answer in shown],
                                               language=self.language)
        started = time.perf_counter()
        try:
            reply = await self.judge.judge(judge_messages, timeout=trace.time_left(self.judge_timeout, "judge"))
        except (JudgeError, ModelNotFoundError) as error:
            if isinstance(error, ModelNotFoundError):
                logger.error("configuration alarm: %s", error)
            trace.add_stage(Stage.JUDGE, self.judge.model, started, error=error)
            return JudgeChoice(order=order, error=f"{type(error).__name__}: {error}"), None

        trace.add_stage(Stage.JUDGE, reply.model, started, prompt_tokens=reply.prompt_tokens,
                        completion_tokens=reply.completion_tokens)
        parsed = parse_choice(reply.raw, LABELS[: len(shown)])
        if parsed.label is None:
            logger.warning("parallel judge output names no candidate label: %.200r", parsed.raw)
            return JudgeChoice(order=order, raw=parsed.raw), None

        pick = shown[LABELS.index(parsed.label)]
        return JudgeChoice(order=order, label=parsed.label, model=pick.completion.model, raw=parsed.raw), pick

    @staticmethod
    def _decide(picks: list[_Answer | None], choices: list[JudgeChoice], strongest: _Answer,
                trace: StrategyTrace) -> _Answer:
        named = [pick for pick in picks if pick is not None]
        if not named:
            failed = all(choice.error is not None for choice in choices)
            trace.fell_back(FallbackReason.JUDGE_FAILED if failed else FallbackReason.CHOICE_UNRECOGNISED)
            trace.note(choice_reason=ChoiceReason.JUDGE_FAILED if failed else ChoiceReason.UNRECOGNISED)
            return strongest

        if len({pick.rank for pick in named}) > 1:
            trace.note(choice_reason=ChoiceReason.PASSES_DISAGREED)
            return max(named, key=lambda pick: pick.rank)

        trace.note(choice_reason=ChoiceReason.JUDGE)
        return named[0]

    @staticmethod
    def _stage_index(trace: StrategyTrace, model: str) -> int:
        """Index of the successful candidate stage of `model`; candidate models are unique."""
        for index, stage in enumerate(trace.stages):
            if stage.stage is Stage.CANDIDATE and stage.model == model and stage.error is None:
                return index
        raise LookupError(f"no successful candidate stage of {model} in the trace")
