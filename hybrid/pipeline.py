"""HybridRouter: predict, answer with the weak model, judge, fall back to the strong model.

One async core (`aask`) does the work; `ask` is a thin synchronous wrapper.
Every request, successful or not, produces exactly one decision record. The
cascade and parallel modes run the strategies in `hybrid.cascade` and
`hybrid.parallel` with the same judge, clients and record. `astream` returns
the answer as a stream of text pieces.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hybrid.answer_stream import AnswerStream, StreamHeader, iterate_pieces, split_text
from hybrid.backends import Completion, CompletionBackend, JudgeBackend, Message
from hybrid.cascade import Cascade
from hybrid.context_limit import check_prompt_size, may_exceed
from hybrid.costs import PriceTable
from hybrid.decision_log import DecisionLog
from hybrid.errors import (
    ConfigurationError,
    HybridError,
    InputError,
    JudgeError,
    ModelNotFoundError,
    PredictionError,
    ProviderError,
    ProviderTimeoutError,
)
from hybrid.judge import build_judge_messages, new_nonce, parse_verdict
from hybrid.messages import last_user_text, normalize_messages
from hybrid.parallel import BestOfN
from hybrid.predictor import Predictor, RouteDecision, build_predictor, decide
from hybrid.record import DecisionRecord, FallbackReason, Mode, Route, Stage, Verdict
from hybrid.settings import HybridSettings, load_settings
from hybrid.strategy import StrategyTrace, TimedBackend
from hybrid.sync import run_sync

__all__ = ["Answer", "HybridRouter", "StreamingBackend"]

logger = logging.getLogger("hybrid")

@runtime_checkable
class StreamingBackend(Protocol):
    """A completion backend that can also stream its answer, as the strong REST client can."""

    model: str

    def stream(self, messages: list[Message], *, timeout: float) -> AsyncIterator[Any]:
        """Yield chunks with `text`, and `prompt_tokens` and `completion_tokens` on the last one."""
        ...


@dataclass(frozen=True)
class Answer:
    """What `ask` returns: the final answer, the model that wrote it, and the decision record."""

    text: str
    model: str
    record: DecisionRecord


class HybridRouter:
    """Answers each prompt with the cheapest model that is good enough, and records why.

    `cascade` defaults to two tiers, the weak and then the strong backend, with
    the cascade options from settings. `parallel` has no default, so parallel
    mode needs one; `from_settings` builds both from HYBRID_CASCADE_TIERS and
    HYBRID_PARALLEL_MODELS.
    """

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
        cascade: Cascade | None = None,
        parallel: BestOfN | None = None,
    ) -> None:
        self.settings = settings
        self.predictor = predictor
        self.weak = weak
        self.strong = strong
        self.fallback = fallback
        self.judge = judge
        self.log = log
        self.prices = prices or PriceTable(settings.prices)
        self.cascade = cascade or Cascade.from_settings(
            settings, judge, prices=self.prices,
            tiers=[TimedBackend(weak, settings.weak_timeout), TimedBackend(strong, settings.strong_timeout)],
        )
        self.parallel = parallel
        _warn_if_deadline_leaves_no_fallback(settings)

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
        judge = GroqJudge(settings)
        prices = PriceTable(settings.prices)
        return cls(
            settings,
            predictor=predictor or build_predictor(settings),
            weak=LiteLLMCompletion(settings),
            strong=RestCompletion(settings, stage=Stage.STRONG),
            fallback=RestCompletion(settings, stage=Stage.FALLBACK),
            judge=judge,
            log=DecisionLog(settings.log_path),
            prices=prices,
            cascade=Cascade.from_settings(settings, judge, prices=prices),
            parallel=BestOfN.from_settings(settings, judge),
        )

    def route(self, prompt_or_messages: str | Sequence[Mapping[str, object]], threshold: float | None = None) -> RouteDecision:
        """Return the routing decision for a prompt without calling any model."""
        text = last_user_text(normalize_messages(prompt_or_messages))
        return decide(self.predictor, text, self._threshold(threshold))

    async def aroute(self, prompt_or_messages: str | Sequence[Mapping[str, object]],
                     threshold: float | None = None) -> RouteDecision:
        """Like `route`, with the embedding and scoring run in a worker thread, off the event loop."""
        text = last_user_text(normalize_messages(prompt_or_messages))
        return await asyncio.to_thread(decide, self.predictor, text, self._threshold(threshold))

    def ask(self, prompt_or_messages: str | Sequence[Mapping[str, object]], *, mode: str = "hybrid",
            threshold: float | None = None) -> Answer:
        """Synchronous `aask`; also works inside a running event loop, such as Jupyter's."""
        return run_sync(self.aask(prompt_or_messages, mode=mode, threshold=threshold))

    async def aask(self, prompt_or_messages: str | Sequence[Mapping[str, object]], *, mode: str = "hybrid",
                   threshold: float | None = None) -> Answer:
        """Answer a prompt or a message list in the given mode and write its decision record."""
        chosen_mode, messages, text = await self._validate(prompt_or_messages, mode, threshold)
        trace = self._new_trace(chosen_mode, text)

        try:
            decision = await self._decide(chosen_mode, text, threshold, trace)
            completion = await self._answer(chosen_mode, messages, text, decision, trace)
        except BaseException as error:
            trace.fail(error)
            self._write(trace.finish(None))
            raise

        record = trace.finish(completion)
        self._write(record)
        return Answer(text=completion.text, model=completion.model, record=record)

    async def astream(self, prompt_or_messages: str | Sequence[Mapping[str, object]], *, mode: str = "hybrid",
                      threshold: float | None = None) -> AnswerStream:
        """Answer like `aask`, as a stream of text pieces; see `AnswerStream` for what streams live.

        Errors before the answer exists, such as invalid input or a failed
        verified answer, raise here. A live stream's errors raise from
        `AnswerStream.start` or during the iteration. The decision record is
        written once the answer is complete or has failed.
        """
        chosen_mode, messages, text = await self._validate(prompt_or_messages, mode, threshold)
        trace = self._new_trace(chosen_mode, text)

        try:
            decision = await self._decide(chosen_mode, text, threshold, trace)
            live = isinstance(self.strong, StreamingBackend) and (
                chosen_mode is Mode.STRONG or (decision is not None and decision.route is Route.STRONG)
            )
            completion = None if live else await self._answer(chosen_mode, messages, text, decision, trace)
        except BaseException as error:
            trace.fail(error)
            self._write(trace.finish(None))
            raise

        if completion is None:
            header = _stream_header(trace, decision, self.strong.model)
            records: list[DecisionRecord] = []
            pieces = self._stream_strong(messages, trace, records)
            return AnswerStream(header, pieces, live=True, finished=lambda: records[0] if records else None)

        record = trace.finish(completion)
        self._write(record)
        header = _stream_header(trace, decision, completion.model)
        return AnswerStream(header, iterate_pieces(split_text(completion.text)), live=False, record=record)

    async def _stream_strong(self, messages: list[Message], trace: StrategyTrace,
                             records: list[DecisionRecord]) -> AsyncIterator[str]:
        """Stream the strong model's answer and write the record when it ends, fails or is abandoned."""
        assert isinstance(self.strong, StreamingBackend)
        started = time.perf_counter()
        parts: list[str] = []
        usage: dict[str, int | None] = {"prompt_tokens": None, "completion_tokens": None}
        try:
            async for chunk in self.strong.stream(messages, timeout=self.settings.strong_timeout):
                if chunk.prompt_tokens is not None or chunk.completion_tokens is not None:
                    usage = {"prompt_tokens": chunk.prompt_tokens, "completion_tokens": chunk.completion_tokens}
                if chunk.text:
                    parts.append(chunk.text)
                    yield chunk.text
        except BaseException as error:
            trace.stage(Stage.STRONG, self.strong.model, started, error=error)
            trace.fail(error)
            records.append(trace.finish(None))
            self._write(records[0])
            raise

        completion = Completion(text="".join(parts), model=self.strong.model, **usage)
        trace.stage(Stage.STRONG, completion.model, started, prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens)
        records.append(trace.finish(completion))
        self._write(records[0])

    async def _validate(self, prompt_or_messages: str | Sequence[Mapping[str, object]], mode: str,
                        threshold: float | None) -> tuple[Mode, list[Message], str]:
        """Check the mode, threshold and messages, and that they fit the strong model's context, before any call."""
        chosen_mode = _parse_mode(mode)
        if threshold is not None:
            self._threshold(threshold)
        messages = normalize_messages(prompt_or_messages)
        text = last_user_text(messages)
        if may_exceed(messages, self.strong.model):
            await asyncio.to_thread(check_prompt_size, messages, self.strong.model)
        return chosen_mode, messages, text

    def _new_trace(self, mode: Mode, text: str) -> StrategyTrace:
        return StrategyTrace(request_id=uuid.uuid4().hex, mode=mode, prompt=text, prices=self.prices,
                             policy=self.settings.log_prompts, strong_model=self.strong.model,
                             deadline_s=self.settings.request_timeout)

    async def _decide(self, mode: Mode, text: str, threshold: float | None,
                      trace: StrategyTrace) -> RouteDecision | None:
        """Run the predictor in the router and hybrid modes; the other modes do not route."""
        if mode not in (Mode.ROUTER, Mode.HYBRID):
            return None
        chosen = self._threshold(threshold)
        try:
            decision = await asyncio.to_thread(decide, self.predictor, text, chosen)
        except PredictionError as error:
            # Without a win rate the safe route is the strong model; the record keeps the reason.
            logger.warning("routing failed, sending the request to the strong model: %s", error)
            trace.fail(error)
            decision = RouteDecision(router=self.predictor.name, win_rate=float("nan"), threshold=chosen,
                                     route=Route.STRONG, latency_ms=0.0)
            trace.routed(decision)
            return decision
        trace.routed(decision)
        return decision

    async def _answer(self, mode: Mode, messages: list[Message], text: str, decision: RouteDecision | None,
                      trace: StrategyTrace) -> Completion:
        if mode is Mode.STRONG:
            return await self._call(self.strong, Stage.STRONG, messages, trace)
        if mode is Mode.WEAK:
            return await self._call(self.weak, Stage.WEAK, messages, trace)
        if mode is Mode.CASCADE:
            return await self.cascade.run(messages, text, trace)
        if mode is Mode.PARALLEL:
            if self.parallel is None:
                raise ConfigurationError(
                    "parallel mode has no candidates in this router: set HYBRID_PARALLEL_MODELS for live models, "
                    "replay a RouterBench 0-shot folder with --replay, whose recording holds several models, "
                    "or pass parallel=BestOfN(...) in Python",
                    setting="HYBRID_PARALLEL_MODELS",
                )
            return await self.parallel.run(messages, text, trace)

        assert decision is not None
        if decision.route is Route.STRONG:
            return await self._call(self.strong, Stage.STRONG, messages, trace)

        try:
            weak = await self._call(self.weak, Stage.WEAK, messages, trace)
        except ProviderError as error:
            logger.warning("request %s: %s; falling back to the strong model", trace.request_id, error)
            return await self._fall_back(FallbackReason.WEAK_FAILED, messages, trace)
        except ModelNotFoundError as error:
            logger.error("request %s: configuration alarm: %s", trace.request_id, error)
            return await self._fall_back(FallbackReason.WEAK_FAILED, messages, trace)

        if mode is Mode.ROUTER:
            return weak
        if not weak.text.strip():
            return await self._fall_back(FallbackReason.WEAK_EMPTY, messages, trace)

        reason = await self._verify(text, weak, trace)
        if reason is None:
            return weak
        return await self._fall_back(reason, messages, trace)

    async def _verify(self, question: str, weak: Completion, trace: StrategyTrace) -> FallbackReason | None:
        """Ask the judge about the weak answer; return why to fall back, or None to accept."""
        nonce = new_nonce()
        judge_messages = build_judge_messages(question, weak.text, language=self.settings.judge_language, nonce=nonce)
        started = time.perf_counter()
        try:
            reply = await self.judge.judge(judge_messages, timeout=trace.time_left(self.settings.judge_timeout, "judge"))
        except ModelNotFoundError as error:
            logger.error("request %s: configuration alarm: %s", trace.request_id, error)
            trace.stage(Stage.JUDGE, self.judge.model, started, error=error)
            return FallbackReason.JUDGE_FAILED
        except JudgeError as error:
            logger.warning("request %s: %s; falling back to the strong model", trace.request_id, error)
            trace.stage(Stage.JUDGE, self.judge.model, started, error=error)
            return FallbackReason.JUDGE_FAILED

        trace.stage(Stage.JUDGE, reply.model, started, prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens)
        verdict = parse_verdict(reply.raw, nonce=nonce)
        trace.judged(verdict)
        if verdict.verdict is Verdict.ACCEPT:
            return None
        if verdict.verdict is Verdict.REJECT:
            return FallbackReason.JUDGE_REJECTED
        return FallbackReason.VERDICT_UNPARSABLE

    async def _fall_back(self, reason: FallbackReason, messages: list[Message], trace: StrategyTrace) -> Completion:
        trace.fell_back(reason)
        return await self._call(self.fallback, Stage.FALLBACK, messages, trace)

    async def _call(self, backend: CompletionBackend, stage: Stage, messages: list[Message],
                    trace: StrategyTrace) -> Completion:
        started = time.perf_counter()
        stage_timeout = self.settings.weak_timeout if stage is Stage.WEAK else self.settings.strong_timeout
        timeout = stage_timeout
        try:
            timeout = trace.time_left(stage_timeout, stage.value)
            completion = await backend.complete(messages, timeout=timeout)
        except ProviderTimeoutError as error:
            cut = trace.deadline_error(error, timeout, stage_timeout)
            trace.stage(stage, backend.model, started, error=cut)
            if cut is error:
                raise
            raise cut from None
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
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"threshold {value!r} is a {type(value).__name__}, not a number; pass a number such as 0.5")
        if not 0.0 <= value <= 1.0:
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


def _stream_header(trace: StrategyTrace, decision: RouteDecision | None, model: str) -> StreamHeader:
    return StreamHeader(
        request_id=trace.request_id, mode=trace.mode, model=model,
        route=decision.route if decision else None,
        win_rate=decision.win_rate if decision else None,
        threshold=decision.threshold if decision else None,
    )


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.6g}"


def _warn_if_deadline_leaves_no_fallback(settings: HybridSettings) -> None:
    """Warn when a slow weak call and judge call can use up the request deadline before the strong fallback."""
    budget = settings.request_timeout
    weak_path = settings.weak_timeout + settings.judge_timeout
    if budget is not None and budget <= weak_path:
        logger.warning(
            "HYBRID_REQUEST_TIMEOUT (%g s) is not above HYBRID_WEAK_TIMEOUT + HYBRID_JUDGE_TIMEOUT (%g s), so a slow "
            "weak model or judge can use up the deadline and leave no time for the strong fallback; lower those two "
            "or raise HYBRID_REQUEST_TIMEOUT", budget, weak_path,
        )
