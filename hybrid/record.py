"""The decision record: one typed, versioned entry per request."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_VERSION",
    "BudgetStop",
    "CandidateRecord",
    "ChoiceReason",
    "DecisionRecord",
    "ExcludedCandidate",
    "FallbackReason",
    "JudgeChoice",
    "Mode",
    "Route",
    "Stage",
    "StageRecord",
    "Verdict",
]

# Version 2 added the cascade and parallel fields. They are all optional, so
# version 1 lines still validate.
SCHEMA_VERSION = 2


class Mode(StrEnum):
    HYBRID = "hybrid"
    ROUTER = "router"
    CASCADE = "cascade"
    PARALLEL = "parallel"
    STRONG = "strong"
    WEAK = "weak"


class Route(StrEnum):
    STRONG = "strong"
    WEAK = "weak"


class Stage(StrEnum):
    WEAK = "weak"
    JUDGE = "judge"
    STRONG = "strong"
    FALLBACK = "fallback"
    TIER = "tier"
    CANDIDATE = "candidate"


class Verdict(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    UNPARSABLE = "unparsable"


class FallbackReason(StrEnum):
    JUDGE_REJECTED = "judge_rejected"
    VERDICT_UNPARSABLE = "verdict_unparsable"
    WEAK_FAILED = "weak_failed"
    WEAK_EMPTY = "weak_empty"
    JUDGE_FAILED = "judge_failed"
    TIER_FAILED = "tier_failed"
    TIER_EMPTY = "tier_empty"
    CHOICE_UNRECOGNISED = "choice_unrecognised"


class ChoiceReason(StrEnum):
    """The reason the parallel mode returned its candidate: the judge's pick or a fallback."""

    JUDGE = "judge"
    PASSES_DISAGREED = "passes_disagreed"
    UNRECOGNISED = "unrecognised"
    JUDGE_FAILED = "judge_failed"
    ONLY_CANDIDATE = "only_candidate"


class StageRecord(BaseModel):
    """One model call: its stage, model, latency, usage, cost and error, if any."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    model: str
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    error: str | None = None

    # Cascade: the position of the tier in the tier list, starting at 0, on tier
    # stages and on the judge stage that checked that tier's answer.
    tier: int | None = None
    # Parallel: the label that the first judge pass showed for this candidate.
    candidate: str | None = None
    # Cascade: the judge's verdict on this tier's answer; None when it was not judged.
    verdict: Verdict | None = None


class BudgetStop(BaseModel):
    """The call that the cascade did not make because its estimated cost would exceed the budget."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    model: str
    tier: int
    spent_usd: float
    estimated_cost_usd: float


class CandidateRecord(BaseModel):
    """A parallel candidate that answered, with the label the first judge pass showed."""

    model_config = ConfigDict(frozen=True)

    label: str
    model: str


class ExcludedCandidate(BaseModel):
    """A parallel candidate left out of the judging because its call failed or its answer was empty."""

    model_config = ConfigDict(frozen=True)

    model: str
    reason: str


class JudgeChoice(BaseModel):
    """One judge pass of the parallel mode.

    `order` lists the candidate models as presented, so the first one carried
    label A. `label` and `model` are None when the output named no candidate,
    and `raw` follows the logging policy like `judge_raw`.
    """

    model_config = ConfigDict(frozen=True)

    order: list[str]
    label: str | None = None
    model: str | None = None
    raw: str | None = None
    error: str | None = None


class DecisionRecord(BaseModel):
    """Everything decided for one request, written once as one JSON line.

    Prompt and answer text appear only under the `full` logging policy; under
    `hash` they are replaced by SHA-256 digests, and under `none` left out.
    Costs are None where a price was unknown.

    In cascade mode, `verdict` is the last verdict the judge gave, and
    `fallback_reason` says why the cascade last moved up a tier. In parallel
    mode, `fallback` means the strongest candidate was returned because no
    judge pass named a candidate.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    request_id: str
    started_at: datetime
    finished_at: datetime
    latency_ms: float
    mode: Mode

    prompt: str | None = None
    prompt_sha256: str | None = None

    router: str | None = None
    win_rate: float | None = None
    threshold: float | None = None
    route: Route | None = None

    stages: list[StageRecord] = Field(default_factory=list)

    verdict: Verdict | None = None
    verdict_reason: str | None = None
    judge_raw: str | None = None

    fallback: bool = False
    fallback_reason: FallbackReason | None = None

    final_model: str | None = None
    answer: str | None = None
    answer_sha256: str | None = None

    total_cost_usd: float | None = None
    strong_only_cost_usd: float | None = None
    errors: list[str] = Field(default_factory=list)

    # Cascade.
    budget_usd: float | None = None
    budget_stopped: bool = False
    budget_stop: BudgetStop | None = None

    # Parallel. `parallel_seed` seeds `random.Random(...).shuffle` of the answering
    # candidates in configured order, which gives the first pass's presentation order.
    parallel_seed: int | None = None
    candidates: list[CandidateRecord] = Field(default_factory=list)
    excluded: list[ExcludedCandidate] = Field(default_factory=list)
    judge_choices: list[JudgeChoice] = Field(default_factory=list)
    choice_reason: ChoiceReason | None = None
