"""RequestTrace: collects one request's stages and turns them into its decision record."""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime

from hybrid.backends import Completion
from hybrid.costs import PriceTable
from hybrid.errors import ProviderTimeoutError
from hybrid.judge import ParsedVerdict
from hybrid.predictor import RouteDecision
from hybrid.record import DecisionRecord, FallbackReason, Mode, Stage, StageRecord

__all__ = ["RequestTrace"]


class RequestTrace:
    """Mutable state of one request, frozen into a DecisionRecord by `finish`."""

    def __init__(self, *, request_id: str, mode: Mode, prompt: str, prices: PriceTable, policy: str,
                 strong_model: str, deadline_s: float | None = None) -> None:
        self.request_id = request_id
        self.strong_model = strong_model
        self.mode = mode
        self.prompt = prompt
        self.prices = prices
        self.policy = policy
        self.started_at = datetime.now(UTC)
        self._started = time.perf_counter()
        self._deadline = None if deadline_s is None else self._started + deadline_s
        self._deadline_s = deadline_s
        self.decision: RouteDecision | None = None
        self.stages: list[StageRecord] = []
        self.verdict: ParsedVerdict | None = None
        self.fallback_reason: FallbackReason | None = None
        self.errors: list[str] = []
        # Errors already listed by `stage`, so `fail` does not list the same one again. The objects are kept,
        # not their ids, because a collected error's id can be reused by a later one.
        self._stage_errors: list[BaseException] = []

    def time_left(self, stage_timeout: float, stage: str) -> float:
        """Return the timeout for the next call: its stage timeout, cut to what the request deadline leaves.

        Raises ProviderTimeoutError when the deadline has already passed.
        """
        if self._deadline is None:
            return stage_timeout
        remaining = self._deadline - time.perf_counter()
        if remaining <= 0:
            raise ProviderTimeoutError(
                f"the request used up its {self._deadline_s:g} s deadline before the {stage} call; "
                "raise HYBRID_REQUEST_TIMEOUT or lower the stage timeouts",
                stage=stage, model="", attempts=0, setting="HYBRID_REQUEST_TIMEOUT",
            )
        return min(stage_timeout, remaining)

    def deadline_error(self, error: ProviderTimeoutError, timeout: float, stage_timeout: float) -> ProviderTimeoutError:
        """Return `error`, or when the request deadline had cut the call's timeout, an error that names the deadline."""
        if self._deadline is None or timeout >= stage_timeout:
            return error
        return ProviderTimeoutError(
            f"{error.stage} model {error.model} was cut off after {timeout:.3g} s because the request's "
            f"{self._deadline_s:g} s deadline ran out; raise HYBRID_REQUEST_TIMEOUT",
            stage=error.stage, model=error.model, attempts=error.attempts, setting="HYBRID_REQUEST_TIMEOUT",
        )

    def routed(self, decision: RouteDecision) -> None:
        self.decision = decision

    def judged(self, verdict: ParsedVerdict) -> None:
        self.verdict = verdict

    def fell_back(self, reason: FallbackReason) -> None:
        self.fallback_reason = reason

    def fail(self, error: BaseException) -> None:
        if any(listed is error for listed in self._stage_errors):
            return
        self.errors.append(f"{type(error).__name__}: {error}")

    def stage(self, stage: Stage, model: str, started: float, *, prompt_tokens: int | None = None,
              completion_tokens: int | None = None, cost_usd: float | None = None,
              error: BaseException | None = None) -> None:
        """Record one finished model call; `started` is its `time.perf_counter()` start."""
        if cost_usd is None and error is None:
            cost_usd = self.prices.cost(model, prompt_tokens, completion_tokens)
        message = f"{type(error).__name__}: {error}" if error is not None else None
        if message:
            self.errors.append(f"{stage.value}: {message}")
            self._stage_errors.append(error)
        self.stages.append(StageRecord(
            stage=stage, model=model, latency_ms=(time.perf_counter() - started) * 1000,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost_usd, error=message,
        ))

    def finish(self, completion: Completion | None) -> DecisionRecord:
        """Build the record; `completion` is None when the request failed."""
        full = self.policy == "full"
        hashed = self.policy == "hash"
        answer = completion.text if completion is not None else None
        verdict = self.verdict

        return DecisionRecord(
            request_id=self.request_id,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            latency_ms=(time.perf_counter() - self._started) * 1000,
            mode=self.mode,
            prompt=self.prompt if full else None,
            prompt_sha256=_sha256(self.prompt) if hashed else None,
            router=self.decision.router if self.decision else None,
            win_rate=self.decision.win_rate if self.decision and math.isfinite(self.decision.win_rate) else None,
            threshold=self.decision.threshold if self.decision else None,
            route=self.decision.route if self.decision else None,
            stages=list(self.stages),
            verdict=verdict.verdict if verdict else None,
            verdict_reason=verdict.reason if verdict and full else None,
            judge_raw=verdict.raw if verdict and full else None,
            fallback=self.fallback_reason is not None,
            fallback_reason=self.fallback_reason,
            final_model=completion.model if completion is not None else None,
            answer=answer if full else None,
            answer_sha256=_sha256(answer) if hashed and answer is not None else None,
            total_cost_usd=self._total_cost(),
            strong_only_cost_usd=self._strong_only_cost(completion),
            errors=list(self.errors),
        )

    def _total_cost(self) -> float | None:
        costs = [stage.cost_usd for stage in self.stages if stage.error is None]
        if any(cost is None for cost in costs):
            return None
        return sum(cost for cost in costs if cost is not None)

    def _strong_only_cost(self, completion: Completion | None) -> float | None:
        """Cost of sending this request straight to the strong model.

        When the strong model answered, its own stage is the answer. Otherwise it is
        an estimate: the weak call's token counts priced as the strong model.
        """
        strong_stages = [s for s in self.stages if s.stage in (Stage.STRONG, Stage.FALLBACK) and s.error is None]
        if strong_stages:
            return strong_stages[-1].cost_usd

        weak_stages = [s for s in self.stages if s.stage is Stage.WEAK and s.error is None]
        if not weak_stages:
            return None
        weak = weak_stages[-1]
        return self.prices.cost(self.strong_model, weak.prompt_tokens, weak.completion_tokens)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
