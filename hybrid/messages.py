"""Validation of prompts and OpenAI-style message lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hybrid.backends import Message
from hybrid.errors import InputError

__all__ = ["last_user_text", "normalize_messages", "text_of"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


def normalize_messages(prompt_or_messages: str | Sequence[Mapping[str, object]]) -> list[Message]:
    """Turn a prompt string or a message list into a validated message list.

    A string becomes one user message. A list must hold dicts with a known
    `role`, contain at least one user message whose text is not blank, and give
    `content` as a string or a list of text parts.
    """
    if isinstance(prompt_or_messages, str):
        if not prompt_or_messages.strip():
            raise InputError("the prompt is empty; pass a non-blank string or a list of messages")
        return [{"role": "user", "content": prompt_or_messages}]

    if not isinstance(prompt_or_messages, Sequence) or not prompt_or_messages:
        raise InputError(
            f"expected a prompt string or a non-empty list of messages, got {type(prompt_or_messages).__name__}"
        )

    messages: list[Message] = []
    for index, message in enumerate(prompt_or_messages):
        if not isinstance(message, Mapping):
            raise InputError(f"message {index} is a {type(message).__name__}; each message must be a dict")
        role = message.get("role")
        if role not in ROLES:
            raise InputError(f"message {index} has role {role!r}; use one of {sorted(ROLES)}")
        content = message.get("content")
        if content is not None:
            text_of(content, index=index)
        messages.append(dict(message))

    last_user_text(messages)
    return messages


def last_user_text(messages: Sequence[Mapping[str, object]]) -> str:
    """Return the text of the last user message, the text the router scores.

    A conversation that ends with an assistant or tool message is routed on its
    last user turn.
    """
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "user":
            content = message.get("content")
            text = text_of(content, index=index)
            if not text.strip() and isinstance(content, list) and content:
                raise InputError(f"message {index} is a user message with no text part; the router scores text, "
                                 "so add a text part beside images or other parts")
            if not text.strip():
                raise InputError(f"message {index} is a user message with blank content; send some text")
            return text
    raise InputError("the messages contain no user message; add one with role 'user'")


def text_of(content: object, *, index: int = 0) -> str:
    """Join the text of a string content or of a list of `{"type": "text"}` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        texts = []
        for part in content:
            if not isinstance(part, Mapping):
                raise InputError(f"message {index} has a content part of type {type(part).__name__}; use dict parts")
            if part.get("type") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise InputError(f"message {index} has a text part whose text is not a string")
                texts.append(text)
        return "\n".join(texts)
    raise InputError(
        f"message {index} has content of type {type(content).__name__}; use a string or a list of text parts"
    )
