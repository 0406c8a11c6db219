"""Small protocols that every model backend implements, live or replayed.

The pipeline depends only on these, so the LiteLLM, REST, groq and replay
backends are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Completion", "CompletionBackend", "JudgeBackend", "JudgeReply", "Message"]

Message = dict[str, object]


@dataclass(frozen=True)
class Completion:
    """One model answer with its usage.

    Token counts are None when the provider sent no usage. `cost_usd` is set only
    when the backend knows the billed cost (replayed data); otherwise the
    pipeline prices the tokens.
    """

    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None


@dataclass(frozen=True)
class JudgeReply:
    """The judge model's raw output, before the verdict is parsed."""

    raw: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@runtime_checkable
class CompletionBackend(Protocol):
    """A chat model that answers a message list."""

    model: str

    async def complete(self, messages: list[Message], *, timeout: float) -> Completion:
        """Answer `messages`; raise a ProviderError subclass on failure."""
        ...


@runtime_checkable
class JudgeBackend(Protocol):
    """A chat model used as judge: it receives the judge prompt and returns raw text."""

    model: str

    async def judge(self, messages: list[Message], *, timeout: float) -> JudgeReply:
        """Send the judge prompt; raise JudgeError on failure."""
        ...
