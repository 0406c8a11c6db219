"""hybrid: answer each prompt with the cheapest model that is good enough, and record why.

Heavy dependencies (torch, routellm, litellm, sentence-transformers) load on first
use, so `import hybrid` stays fast and makes no network call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybrid.errors import (
        ConfigurationError,
        DataError,
        HybridError,
        InputError,
        JudgeError,
        ModelNotFoundError,
        PredictionError,
        ProviderError,
        ProviderTimeoutError,
        QuotaExceededError,
        ReplayMissError,
    )
    from hybrid.pipeline import Answer, HybridRouter
    from hybrid.predictor import RouteDecision
    from hybrid.record import DecisionRecord, FallbackReason, Mode, Route, Stage, StageRecord, Verdict
    from hybrid.settings import HybridSettings, load_settings

__all__ = [
    "Answer",
    "ConfigurationError",
    "DataError",
    "DecisionRecord",
    "FallbackReason",
    "HybridError",
    "HybridRouter",
    "HybridSettings",
    "InputError",
    "JudgeError",
    "Mode",
    "ModelNotFoundError",
    "PredictionError",
    "ProviderError",
    "ProviderTimeoutError",
    "QuotaExceededError",
    "ReplayMissError",
    "Route",
    "RouteDecision",
    "Stage",
    "StageRecord",
    "Verdict",
    "load_settings",
]

_HOMES = {
    "Answer": "hybrid.pipeline",
    "HybridRouter": "hybrid.pipeline",
    "RouteDecision": "hybrid.predictor",
    "HybridSettings": "hybrid.settings",
    "load_settings": "hybrid.settings",
    **{name: "hybrid.record" for name in ("DecisionRecord", "FallbackReason", "Mode", "Route", "Stage", "StageRecord", "Verdict")},
    **{
        name: "hybrid.errors"
        for name in (
            "ConfigurationError", "DataError", "HybridError", "InputError", "JudgeError", "ModelNotFoundError",
            "PredictionError", "ProviderError", "ProviderTimeoutError", "QuotaExceededError", "ReplayMissError",
        )
    },
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'hybrid' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
