"""Rejection of prompts longer than the strong model's context window."""

from __future__ import annotations

from hybrid.backends import Message
from hybrid.errors import InputError
from hybrid.messages import text_of

__all__ = ["check_prompt_size", "context_limit", "may_exceed"]


def context_limit(model: str) -> int | None:
    """Return the model's input limit in tokens from LiteLLM's map, or None when it is not listed."""
    import litellm

    for name in (model, f"openai/{model}", model.split("/", 1)[-1]):
        entry = litellm.model_cost.get(name) or {}
        limit = entry.get("max_input_tokens")
        if isinstance(limit, int) and limit > 0:
            return limit
    return None


def may_exceed(messages: list[Message], model: str) -> bool:
    """Return True when the messages have more characters than `model` accepts tokens.

    A token is at least one character, so a False answer needs no tokenizer call.
    """
    limit = context_limit(model)
    if limit is None:
        return False
    characters = sum(len(text_of(message.get("content"), index=index)) for index, message in enumerate(messages))
    return characters > limit


def check_prompt_size(messages: list[Message], model: str) -> None:
    """Raise InputError when the messages exceed `model`'s context window.

    Tokens are counted only when `may_exceed` says the text could be too long.
    """
    if not may_exceed(messages, model):
        return

    import litellm

    limit = context_limit(model)

    tokens = int(litellm.token_counter(model=model, messages=messages))
    if tokens > limit:
        raise InputError(
            f"the prompt has {tokens} tokens, more than the {limit} that model {model} accepts; "
            "shorten the prompt or drop earlier turns of the conversation"
        )
