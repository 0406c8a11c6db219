"""Prompt and message-list validation, and which text the router scores."""

from __future__ import annotations

import pytest

from hybrid.errors import InputError
from hybrid.messages import last_user_text, normalize_messages


def test_string_becomes_user_message() -> None:
    assert normalize_messages("hi") == [{"role": "user", "content": "hi"}]


def test_routes_on_last_user_turn() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": [{"type": "text", "text": "Second"}, {"type": "image_url", "image_url": {}},
                                     {"type": "text", "text": "question"}]},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "content": "tool output"},
    ]

    assert last_user_text(normalize_messages(messages)) == "Second\nquestion"


@pytest.mark.parametrize("value, fragment", [
    ("", "empty"),
    ("   \n", "empty"),
    ([], "non-empty list"),
    ([{"role": "system", "content": "x"}], "no user message"),
    ([{"role": "user", "content": "  "}], "blank content"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}], "no text part"),
    ([{"role": "user", "content": 42}], "content of type int"),
    ([{"role": "user", "content": [{"type": "text", "text": 3}]}], "not a string"),
    ([{"role": "wizard", "content": "x"}], "role 'wizard'"),
    (["hello"], "must be a dict"),
    (42, "got int"),
])
def test_bad_input_is_named(value: object, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        normalize_messages(value)  # type: ignore[arg-type]
