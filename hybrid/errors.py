"""Exceptions raised by hybrid.

    HybridError
    ├── ConfigurationError        a setting is missing or invalid
    │   └── ModelNotFoundError    a provider says a configured model is unknown or retired
    ├── InputError                a prompt or message list is invalid (also a ValueError)
    ├── PredictionError           the router could not score a prompt
    ├── ProviderError             a model call failed after its retries
    │   ├── ProviderTimeoutError  the call timed out
    │   └── QuotaExceededError    the account has no quota left
    ├── JudgeError                the judge call failed
    ├── ReplayMissError           a prompt is not in the recording
    └── DataError                 recorded data is missing or fails its checksum

Runtime failures carry the stage, the model and the attempt count, so a caller
can tell which leg of the pipeline failed without parsing the message.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DataError",
    "HybridError",
    "InputError",
    "JudgeError",
    "ModelNotFoundError",
    "PredictionError",
    "ProviderError",
    "ProviderTimeoutError",
    "QuotaExceededError",
    "ReplayMissError",
]


class HybridError(Exception):
    """Root of every exception that hybrid raises on purpose."""


class ConfigurationError(HybridError):
    """A setting is missing or invalid. `setting` names the variable to change."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class InputError(HybridError, ValueError):
    """A prompt, a message list or a CLI argument is invalid."""


class PredictionError(HybridError):
    """The router could not compute a win rate."""


class ProviderError(HybridError):
    """A model call failed for good: retries, if any, are spent.

    `stage` is the pipeline stage (weak, judge, strong, fallback, embed),
    `status` the HTTP status when there was one, `setting` the setting to check.
    """

    def __init__(
        self,
        message: str,
        *,
        stage: str,
        model: str,
        status: int | None = None,
        attempts: int = 1,
        setting: str | None = None,
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.model = model
        self.status = status
        self.attempts = attempts
        self.setting = setting


class ProviderTimeoutError(ProviderError):
    """A model call exceeded its stage timeout or the request deadline."""


class QuotaExceededError(ProviderError):
    """The provider reports that the account's quota is used up; retrying cannot help."""


class ModelNotFoundError(ConfigurationError):
    """A provider reports the configured model as unknown or decommissioned."""

    def __init__(self, message: str, *, setting: str, model: str, stage: str) -> None:
        super().__init__(message, setting=setting)
        self.model = model
        self.stage = stage


class JudgeError(HybridError):
    """The judge call failed, so no verdict exists."""

    def __init__(self, message: str, *, model: str, status: int | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.status = status


class ReplayMissError(HybridError, LookupError):
    """A prompt is not in the recorded data that the replay backends serve."""


class DataError(HybridError):
    """Recorded benchmark data is missing, malformed or fails its checksum."""
