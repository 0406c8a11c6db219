"""Classification of provider failures shared by the three HTTP clients."""

from __future__ import annotations

import re

__all__ = ["is_model_missing", "is_quota_exhausted"]

_MODEL_MISSING = re.compile(
    r"model_decommissioned|decommissioned|model_not_found|does not exist|no longer supported|unknown model",
    re.IGNORECASE,
)


def is_model_missing(status: int | None, body: str) -> bool:
    """Return True when a 400/404 says that the requested model is unknown or retired."""
    return status in (400, 404) and bool(_MODEL_MISSING.search(body))


def is_quota_exhausted(status: int | None, body: str) -> bool:
    """Return True for OpenAI's 429 `insufficient_quota`, which no retry can fix."""
    return status == 429 and "insufficient_quota" in body
