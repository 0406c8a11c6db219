"""HybridRouter: predict, answer with the weak model, judge, fall back to the strong model.

One async core (`aask`) does the work; `ask` is a thin synchronous wrapper.
Every request, successful or not, produces exactly one decision record.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hybrid.backends import Completion, CompletionBackend, JudgeBackend, Message
from hybrid.costs import PriceTable
from hybrid.decision_log import DecisionLog
from hybrid.errors import HybridError, InputError, JudgeError, ModelNotFoundError, ProviderError
from hybrid.judge import build_judge_messages, parse_verdict
from hybrid.messages import last_user_text, normalize_messages
from hybrid.predictor import Predictor, RouteDecision, build_predictor, decide
from hybrid.record import DecisionRecord, FallbackReason, Mode, Route, Stage, Verdict
from hybrid.settings import HybridSettings, load_settings
from hybrid.trace import RequestTrace

__all__ = ["Answer", "HybridRouter"]

logger = logging.getLogger("hybrid")

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """What `ask` returns: the final answer, the model that wrote it, and the decision record."""

    text: str
    model: str
    record: DecisionRecord


class HybridRouter:
    """Answers each prompt with the cheapest model that is good enough, and records why."""

    def __init__(
        self,
        settings: HybridSettings,
        *,
        predictor: Predictor,
        weak: CompletionBackend,
        strong: CompletionBackend,
        fallback: CompletionBackend,
        judge: JudgeBackend,
        log: DecisionLog | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self.settings = settings
        self.predictor = predictor
        self.weak = weak
        self.strong = strong
        self.fallback = fallback
        self.judge = judge
        self.log = log
        self.prices = prices or PriceTable(settings.prices)

    @classmethod
    def from_settings(cls, settings: HybridSettings | None = None, *, predictor: Predictor | None = None,
                      **overrides: Any) -> HybridRouter:
        """Build a router with the live backends: LiteLLM, requests and groq.

        No call is made here; a missing key is reported by the first request
        that needs it. `overrides` are settings fields, applied when `settings`
        is None; `predictor` replaces the configured one.
        """
        from hybrid.judge_client import GroqJudge
        from hybrid.strong_client import RestCompletion
        from hybrid.weak_client import LiteLLMCompletion

        settings = settings or load_settings(**overrides)
        return cls(
            settings,
            predictor=predictor or build_predictor(settings),
            weak=LiteLLMCompletion(settings),
            strong=RestCompletion(settings, stage=Stage.STRONG),
            fallback=RestCompletion(settings, stage=Stage.FALLBACK),
            judge=GroqJudge(settings),
            log=DecisionLog(settings.log_path),
        )

    def route(self, prompt_or_messages: str | Sequence[Mapping[str, object]], threshold: float | None = None) -> RouteDecision:
        """Return the routing decision for a prompt without calling any model."""
        text = last_user_text(normalize_messages(prompt_or_messages))
        return decide(self.predictor, text, self._threshold(threshold))

    def ask(self, prompt_or_messages: str | Sequence[Mapping[str, object]], *, mode: str = "hybrid",
            threshold: float | None = None) -> Answer:
        """Synchronous `aask`; also works inside a running event loop, such as Jupyter's."""
        return _run_sync(self.aask(prompt_or_messages, mode=mode, threshold=threshold))

    async def aask(self, prompt_or_messages: str | Sequence[Mapping[str, object]], *, mode: str = "hybrid",
                   threshold: float | None = None) -> Answer:
        """Answer a prompt or a message list in the given mode and write its decision record."""
        chosen_mode = _parse_mode(mode)
        messages = normalize_messages(prompt_or_messages)
        text = last_user_text(messages)
        trace = RequestTrace(request_id=uuid.uuid4().hex, mode=chosen_mode, prompt=text, prices=self.prices,
                             policy=self.settings.log_prompts, strong_model=self.strong.model)

        try:
            completion = await self._answer(chosen_mode, messages, text, threshold, trace)
        except BaseException as error:
            trace.fail(error)
            self._write(trace.finish(None))
            raise

        record = trace.finish(completion)
        self._write(record)
        return Answer(text=completion.text, model=completion.model, record=record)

    async def _answer(self, mode: Mode, messages: list[Message], text: str, threshold: float | None,
                      trace: RequestTrace) -> Completion:
        if mode is Mode.STRONG:
            return await self._call(self.strong, Stage.STRONG, messages, trace)
        if mode is Mode.WEAK:
            return await self._call(self.weak, Stage.WEAK, messages, trace)

        decision = await asyncio.to_thread(decide, self.predictor, text, self._threshold(threshold))
        trace.routed(decision)
        if decision.route is Route.STRONG:
            return await self._call(self.strong, Stage.STRONG, messages, trace)

        try:
            weak = await self._call(self.weak, Stage.WEAK, messages, trace)
        except ProviderError:
            return await self._fall_back(FallbackReason.WEAK_FAILED, messages, trace)
        except ModelNotFoundError as error:
            logger.error("configuration alarm: %s", error)
            return await self._fall_back(FallbackReason.WEAK_FAILED, messages, trace)

        if mode is Mode.ROUTER:
            return weak
        if not weak.text.strip():
            return await self._fall_back(FallbackReason.WEAK_EMPTY, messages, trace)

        reason = await self._verify(text, weak, trace)
        if reason is None:
            return weak
        return await self._fall_back(reason, messages, trace)

    async def _verify(self, question: str, weak: Completion, trace: RequestTrace) -> FallbackReason | None:
        """Ask the judge about the weak answer; return why to fall back, or None to accept."""
        judge_messages = build_judge_messages(question, weak.text, language=self.settings.judge_language)
        started = time.perf_counter()
        try:
            reply = await self.judge.judge(judge_messages, timeout=self.settings.judge_timeout)
        except ModelNotFoundError as error:
            logger.error("configuration alarm: %s", error)
            trace.stage(Stage.JUDGE, self.judge.model, started, error=error)
            return FallbackReason.JUDGE_FAILED
        except JudgeError as error:
            trace.stage(Stage.JUDGE, self.judge.model, started, error=error)
            return FallbackReason.JUDGE_FAILED

        trace.stage(Stage.JUDGE, reply.model, started, prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens)
        verdict = parse_verdict(reply.raw)
        trace.judged(verdict)
        if verdict.verdict is Verdict.ACCEPT:
            return None
        if verdict.verdict is Verdict.REJECT:
            return FallbackReason.JUDGE_REJECTED
        return FallbackReason.VERDICT_UNPARSABLE

    async def _fall_back(self, reason: FallbackReason, messages: list[Message], trace: RequestTrace) -> Completion:
        trace.fell_back(reason)
        return await self._call(self.fallback, Stage.FALLBACK, messages, trace)

    async def _call(self, backend: CompletionBackend, stage: Stage, messages: list[Message],
                    trace: RequestTrace) -> Completion:
        timeout = self.settings.weak_timeout if stage is Stage.WEAK else self.settings.strong_timeout
        started = time.perf_counter()
        try:
            completion = await backend.complete(messages, timeout=timeout)
        except HybridError as error:
            trace.stage(stage, backend.model, started, error=error)
            raise

        trace.stage(stage, completion.model, started, prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens, cost_usd=completion.cost_usd)
        return completion

    def _threshold(self, threshold: float | None) -> float:
        value = threshold if threshold is not None else self.settings.threshold
        if value is None:
            value = self.predictor.default_threshold
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise InputError(f"threshold {value!r} is outside [0, 1]; pass a number such as 0.5")
        return float(value)

    def _write(self, record: DecisionRecord) -> None:
        logger.info(
            "decision %s mode=%s route=%s win_rate=%s verdict=%s fallback=%s final_model=%s cost_usd=%s latency_ms=%.0f",
            record.request_id, record.mode, record.route, _fmt(record.win_rate), record.verdict,
            record.fallback_reason or "no", record.final_model, _fmt(record.total_cost_usd), record.latency_ms,
        )
        if self.log is not None:
            self.log.append(record)


def _parse_mode(mode: str) -> Mode:
    try:
        return Mode(mode)
    except ValueError:
        raise InputError(f"unknown mode {mode!r}; use one of {[item.value for item in Mode]}") from None


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.6g}"


def _run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)

    # A loop already runs in this thread (Jupyter): run the coroutine on a fresh
    # loop in a helper thread and wait for it.
    result: dict[str, Any] = {}

    def runner() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread
            result["error"] = error

    thread = threading.Thread(target=runner, name="hybrid-ask")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]

