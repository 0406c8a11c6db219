"""Cascade mode: ask the tiers one by one, cheapest first, until the judge accepts an answer.

Each tier but the last answers and the judge checks the answer with the same
prompt and verdict parser as the hybrid pipeline. The first accepted answer is
returned, and the last tier's answer is returned unjudged. A tier whose call
fails is skipped. With a budget, the cascade estimates each call's cost before
making it and stops before a call that would take the request over the budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hybrid.backends import Completion, JudgeBackend, Message
from hybrid.costs import PriceTable
from hybrid.errors import ConfigurationError, JudgeError, ModelNotFoundError, ProviderError
from hybrid.judge import build_judge_messages, new_nonce, parse_verdict
from hybrid.record import BudgetStop, FallbackReason, Stage, Verdict
from hybrid.settings import CascadeJudgeError, HybridSettings
from hybrid.strategy import StrategyTrace, TimedBackend, build_model_backend, call_model, estimate_cost

__all__ = ["JUDGE_ESTIMATED_OUTPUT_TOKENS", "Cascade"]

logger = logging.getLogger("hybrid.cascade")

# Output tokens assumed for a judge verdict when estimating its cost: the verdict
# is a one-line JSON object.
JUDGE_ESTIMATED_OUTPUT_TOKENS = 64

_ESCALATION_REASONS = {Verdict.REJECT: FallbackReason.JUDGE_REJECTED, Verdict.UNPARSABLE: FallbackReason.VERDICT_UNPARSABLE}


@dataclass(frozen=True)
class _Answered:
    """A tier's answer and the judge's verdict on it; None when it was not judged."""

    completion: Completion
    verdict: Verdict | None


class _BudgetStopped(Exception):
    """Raised inside `Cascade.run` when the next call does not fit in the budget."""


class Cascade:
    """Cascade routing over an ordered list of tiers, cheapest first.

    `judge_error` sets what a failed judge call means: "reject" records the
    tier's verdict as a reject, and "skip" leaves the answer unjudged. Either
    way the cascade moves on to the next tier. The difference shows when a
    budget stop ends the cascade: it returns the latest answer that was not
    rejected, or else the latest answer.
    """

    def __init__(
        self,
        tiers: Sequence[TimedBackend],
        judge: JudgeBackend,
        *,
        judge_timeout: float,
        language: str = "en",
        max_tiers: int | None = None,
        budget_usd: float | None = None,
        judge_error: CascadeJudgeError = "reject",
        estimated_output_tokens: int = 512,
        prices: PriceTable | None = None,
    ) -> None:
        if not tiers:
            raise ConfigurationError("a cascade needs at least one tier; set HYBRID_CASCADE_TIERS",
                                     setting="HYBRID_CASCADE_TIERS")
        if judge_error not in ("reject", "skip"):
            raise ConfigurationError(f"cascade judge error policy {judge_error!r} is invalid; use 'reject' or 'skip'",
                                     setting="HYBRID_CASCADE_JUDGE_ERROR")
        self.tiers = list(tiers[:max_tiers] if max_tiers is not None else tiers)
        self.judge = judge
        self.judge_timeout = judge_timeout
        self.language = language
        self.budget_usd = budget_usd
        self.judge_error = judge_error
        self.estimated_output_tokens = estimated_output_tokens
        self.prices = prices or PriceTable()

    @classmethod
    def from_settings(cls, settings: HybridSettings, judge: JudgeBackend, *,
                      tiers: Sequence[TimedBackend] | None = None, prices: PriceTable | None = None) -> Cascade:
        """Build a cascade with the settings' options, over `tiers` or else the live HYBRID_CASCADE_TIERS."""
        if tiers is None:
            tiers = [build_model_backend(settings, model, stage="cascade") for model in settings.cascade_tiers]
        return cls(
            tiers,
            judge,
            judge_timeout=settings.judge_timeout,
            language=settings.judge_language,
            max_tiers=settings.cascade_max_tiers,
            budget_usd=settings.cascade_budget_usd,
            judge_error=settings.cascade_judge_error,
            estimated_output_tokens=settings.cascade_estimated_output_tokens,
            prices=prices or PriceTable(settings.prices),
        )

    @property
    def models(self) -> list[str]:
        return [tier.model for tier in self.tiers]

    async def run(self, messages: list[Message], question: str, trace: StrategyTrace) -> Completion:
        """Answer `messages`, recording every tier and judge call in `trace`."""
        trace.note(budget_usd=self.budget_usd)
        answered: list[_Answered] = []
        last = len(self.tiers) - 1

        for index, tier in enumerate(self.tiers):
            try:
                self._check_budget(Stage.TIER, tier.backend, tier.model, index, messages,
                                   self.estimated_output_tokens, trace)
            except _BudgetStopped:
                return self._stopped_answer(answered, trace)

            try:
                completion = await call_model(tier, messages, trace, Stage.TIER, tier=index)
            except ModelNotFoundError as error:
                logger.error("configuration alarm: cascade tier %d: %s; fix HYBRID_CASCADE_TIERS", index, error)
                if index == last:
                    raise
                trace.fell_back(FallbackReason.TIER_FAILED)
                continue
            except ProviderError:
                if index == last:
                    raise
                trace.fell_back(FallbackReason.TIER_FAILED)
                continue

            if index == last:
                return completion
            if not completion.text.strip():
                answered.append(_Answered(completion, Verdict.REJECT))
                trace.fell_back(FallbackReason.TIER_EMPTY)
                continue

            try:
                verdict = await self._judge(question, completion, index, trace)
            except _BudgetStopped:
                return self._stopped_answer([*answered, _Answered(completion, None)], trace)

            if verdict is Verdict.ACCEPT:
                return completion
            answered.append(_Answered(completion, verdict))

        raise AssertionError("unreachable: the last tier returns or raises")  # pragma: no cover

    async def _judge(self, question: str, completion: Completion, index: int, trace: StrategyTrace) -> Verdict | None:
        """Judge one tier's answer, record the verdict on its stage, and note why the cascade moves on."""
        nonce = new_nonce()
        judge_messages = build_judge_messages(question, completion.text, language=self.language, nonce=nonce)
        self._check_budget(Stage.JUDGE, self.judge, self.judge.model, index, judge_messages,
                           JUDGE_ESTIMATED_OUTPUT_TOKENS, trace)
        tier_stage = len(trace.stages) - 1

        started = time.perf_counter()
        try:
            reply = await self.judge.judge(judge_messages, timeout=trace.time_left(self.judge_timeout, "judge"))
        except (JudgeError, ModelNotFoundError) as error:
            if isinstance(error, ModelNotFoundError):
                logger.error("configuration alarm: %s", error)
            trace.add_stage(Stage.JUDGE, self.judge.model, started, error=error, tier=index)
            trace.fell_back(FallbackReason.JUDGE_FAILED)
            verdict = Verdict.REJECT if self.judge_error == "reject" else None
            trace.annotate(tier_stage, verdict=verdict)
            return verdict

        trace.add_stage(Stage.JUDGE, reply.model, started, prompt_tokens=reply.prompt_tokens,
                        completion_tokens=reply.completion_tokens, tier=index)
        parsed = parse_verdict(reply.raw, nonce=nonce)
        trace.judged(parsed)
        trace.annotate(tier_stage, verdict=parsed.verdict)
        if parsed.verdict is not Verdict.ACCEPT:
            trace.fell_back(_ESCALATION_REASONS[parsed.verdict])
        return parsed.verdict

    def _check_budget(self, stage: Stage, backend: object, model: str, index: int, messages: list[Message],
                      output_tokens: int, trace: StrategyTrace) -> None:
        """Raise _BudgetStopped, after recording the stop, when the next call may exceed the budget."""
        if self.budget_usd is None:
            return

        estimate = estimate_cost(backend, model, messages, output_tokens, self.prices)
        if estimate is None:
            # NOTE: without a price the call cannot be checked, so it is made;
            # add the model to HYBRID_PRICES to enforce the budget on it.
            logger.warning("cascade budget: no price known for %s, so its call is made unchecked", model)
            return

        spent = trace.spent_usd()
        if spent + estimate <= self.budget_usd:
            return

        logger.info("cascade budget: stopping before %s %s (spent %.6g + estimated %.6g > budget %.6g USD)",
                    stage.value, model, spent, estimate, self.budget_usd)
        trace.note(budget_stopped=True, budget_stop=BudgetStop(
            stage=stage, model=model, tier=index, spent_usd=spent, estimated_cost_usd=estimate,
        ))
        raise _BudgetStopped

    def _stopped_answer(self, answered: list[_Answered], trace: StrategyTrace) -> Completion:
        """Return the answer a budget stop ends with: the latest one not rejected, else the latest one."""
        if not answered:
            stop: BudgetStop = trace.fields["budget_stop"]
            raise ConfigurationError(
                f"the cascade stopped before any tier answered: {stop.model} was estimated at "
                f"{stop.estimated_cost_usd:.6g} USD with {stop.spent_usd:.6g} USD spent, over the budget of "
                f"{self.budget_usd:g} USD; raise HYBRID_CASCADE_BUDGET_USD or put a cheaper model first",
                setting="HYBRID_CASCADE_BUDGET_USD",
            )
        unrejected = [item for item in answered if item.verdict is None]
        return (unrejected or answered)[-1].completion
