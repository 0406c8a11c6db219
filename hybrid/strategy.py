"""Building blocks shared by the cascade and parallel modes.

A `TimedBackend` pairs a model backend with its call timeout. `call_model`
makes one timed call and records it as a stage. `StrategyTrace` extends the
request trace with the stage and record fields that only these modes fill in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hybrid.backends import Completion, CompletionBackend, Message
from hybrid.costs import PriceTable
from hybrid.errors import HybridError, ProviderTimeoutError
from hybrid.record import DecisionRecord, Stage, Verdict
from hybrid.settings import HybridSettings
from hybrid.trace import RequestTrace

__all__ = [
    "CostEstimator",
    "StrategyTrace",
    "TimedBackend",
    "build_model_backend",
    "call_model",
    "estimate_cost",
]

logger = logging.getLogger("hybrid.strategy")

# Extra seconds an outer asyncio timeout waits past the backend's own timeout,
# so the backend reports its own timeout first whenever it can.
TIMEOUT_GRACE_S = 1.0


@dataclass(frozen=True)
class TimedBackend:
    """A completion backend and the timeout in seconds for each of its calls."""

    backend: CompletionBackend
    timeout: float

    @property
    def model(self) -> str:
        return self.backend.model


@runtime_checkable
class CostEstimator(Protocol):
    """A backend that can tell what a call will cost before making it, as replay backends can."""

    def estimate_cost_usd(self, messages: list[Message]) -> float | None:
        ...


def build_model_backend(settings: HybridSettings, model: str, *, stage: str) -> TimedBackend:
    """Build the live backend for a cascade tier or a parallel candidate.

    A model named like `strong_model`, with or without an `openai/` prefix, is
    called over the strong model's REST endpoint with HYBRID_OPENAI_BASE_URL and
    its key, as the strong model and the fallback are. Through LiteLLM it would
    go to HYBRID_WEAK_API_BASE or LiteLLM's default endpoint, with a key that
    LiteLLM looks up itself. Every other model goes through LiteLLM.
    """
    from hybrid.strong_client import RestCompletion
    from hybrid.weak_client import LiteLLMCompletion

    if model.removeprefix("openai/") == settings.strong_model.removeprefix("openai/"):
        return TimedBackend(RestCompletion(settings, stage=stage), settings.strong_timeout)
    return TimedBackend(LiteLLMCompletion(settings, model=model, stage=stage), settings.weak_timeout)


def estimate_cost(backend: object, model: str, messages: list[Message], output_tokens: int,
                  prices: PriceTable) -> float | None:
    """Estimate one call's cost in USD before making it, or return None when the price is unknown.

    A backend that implements `CostEstimator` answers for itself. Otherwise the
    estimate is the prompt's tokens, counted with LiteLLM's tokenizer for the
    model, plus `output_tokens`, at the model's price.
    """
    if isinstance(backend, CostEstimator):
        return backend.estimate_cost_usd(messages)

    import litellm

    prompt_tokens = int(litellm.token_counter(model=model, messages=messages))
    return prices.cost(model, prompt_tokens, output_tokens)


async def call_model(slot: TimedBackend, messages: list[Message], trace: StrategyTrace, stage: Stage, *,
                     tier: int | None = None) -> Completion:
    """Make one model call, record it as a stage, and re-raise its error after recording it."""
    started = time.perf_counter()
    timeout = slot.timeout
    try:
        timeout = trace.time_left(slot.timeout, stage.value)
        completion = await asyncio.wait_for(slot.backend.complete(messages, timeout=timeout),
                                            timeout + TIMEOUT_GRACE_S)
    except asyncio.TimeoutError:
        error = trace.deadline_error(ProviderTimeoutError(
            f"{stage.value} model {slot.model} timed out after {timeout:g} s",
            stage=stage.value, model=slot.model,
        ), timeout, slot.timeout)
        trace.add_stage(stage, slot.model, started, error=error, tier=tier)
        raise error from None
    except ProviderTimeoutError as error:
        cut = trace.deadline_error(error, timeout, slot.timeout)
        trace.add_stage(stage, slot.model, started, error=cut, tier=tier)
        if cut is error:
            raise
        raise cut from None
    except HybridError as error:
        trace.add_stage(stage, slot.model, started, error=error, tier=tier)
        raise

    trace.add_stage(stage, completion.model, started, prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens, cost_usd=completion.cost_usd, tier=tier)
    return completion


class StrategyTrace(RequestTrace):
    """A RequestTrace that also records tiers, candidates and the other cascade and parallel fields."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields: dict[str, Any] = {}

    def add_stage(self, stage: Stage, model: str, started: float, *, tier: int | None = None,
                  candidate: str | None = None, verdict: Verdict | None = None, **usage: Any) -> int:
        """Record one finished call like `stage`, with the extra fields; return its index in `stages`."""
        self.stage(stage, model, started, **usage)
        index = len(self.stages) - 1
        self.annotate(index, tier=tier, candidate=candidate, verdict=verdict)
        return index

    def annotate(self, index: int, **fields: Any) -> None:
        """Set the given non-None fields on the stage at `index`."""
        update = {name: value for name, value in fields.items() if value is not None}
        if update:
            self.stages[index] = self.stages[index].model_copy(update=update)

    def note(self, **fields: Any) -> None:
        """Set decision record fields that `RequestTrace.finish` does not fill in."""
        self.fields.update(fields)

    def spent_usd(self) -> float:
        """Sum the known costs of the successful stages so far; unknown costs count as 0."""
        return sum(stage.cost_usd or 0.0 for stage in self.stages if stage.error is None)

    def finish(self, completion: Completion | None) -> DecisionRecord:
        record = super().finish(completion)
        update = dict(self.fields)

        choices = update.get("judge_choices")
        if choices is not None and self.policy != "full":
            update["judge_choices"] = [choice.model_copy(update={"raw": None}) for choice in choices]

        if record.strong_only_cost_usd is None:
            update["strong_only_cost_usd"] = self._answer_stage_strong_cost()
        return record.model_copy(update=update) if update else record

    def _answer_stage_strong_cost(self) -> float | None:
        """Cost of sending a cascade or parallel request straight to the strong model.

        When a tier or candidate call of the strong model succeeded, that is its
        cost. Otherwise it is an estimate: the token counts of the last answer
        priced as the strong model.
        """
        answers = [stage for stage in self.stages
                   if stage.stage in (Stage.TIER, Stage.CANDIDATE) and stage.error is None]
        strong = [stage for stage in answers if stage.model.removeprefix("openai/") == self.strong_model]
        if strong:
            return strong[-1].cost_usd
        if not answers:
            return None
        return self.prices.cost(self.strong_model, answers[-1].prompt_tokens, answers[-1].completion_tokens)

