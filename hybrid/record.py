"""The decision record: one typed, versioned entry per request."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_VERSION",
    "DecisionRecord",
    "FallbackReason",
    "Mode",
    "Route",
    "Stage",
    "StageRecord",
    "Verdict",
]

SCHEMA_VERSION = 1


class Mode(StrEnum):
    HYBRID = "hybrid"
    ROUTER = "router"
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


class DecisionRecord(BaseModel):
    """Everything decided for one request, written once as one JSON line.

    Prompt and answer text appear only under the `full` logging policy; under
    `hash` they are replaced by SHA-256 digests, and under `none` left out.
    Costs are None where a price was unknown.
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
