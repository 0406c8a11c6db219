"""Property tests: arbitrary Unicode never crashes the router or the verdict parser."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid.errors import InputError
from hybrid.judge import parse_verdict
from hybrid.messages import last_user_text, normalize_messages
from hybrid.predictor import decide
from hybrid.record import Route, Verdict

roles = st.sampled_from(["system", "user", "assistant", "tool", "developer", "other", ""])
contents = st.one_of(
    st.text(),
    st.none(),
    st.integers(),
    st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url"]), "text": st.text()})),
)
message_lists = st.lists(st.fixed_dictionaries({"role": roles, "content": contents}), max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_verdict_parser_total(raw: str) -> None:
    parsed = parse_verdict(raw, nonce="abcd1234abcd1234")

    assert parsed.verdict in set(Verdict)
    assert parsed.raw == raw


@settings(max_examples=200, deadline=None)
@given(message_lists)
def test_message_validation_total(messages: list[dict[str, object]]) -> None:
    try:
        normalized = normalize_messages(messages)
    except InputError:
        return

    assert isinstance(last_user_text(normalized), str)
    assert last_user_text(normalized).strip()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=300), message_lists))
def test_route_total(shipped_predictor: object, prompt: object) -> None:
    try:
        text = last_user_text(normalize_messages(prompt))  # type: ignore[arg-type]
    except InputError:
        return

    decision = decide(shipped_predictor, text, 0.5)  # type: ignore[arg-type]

    assert 0.0 <= decision.win_rate <= 1.0
    assert decision.route is (Route.STRONG if decision.win_rate >= 0.5 else Route.WEAK)


@pytest.mark.parametrize("raw", ["\ud800", "{\"verdict\": \"\u0430ccept\"}", "\x00" * 10])
def test_verdict_parser_odd_strings(raw: str) -> None:
    assert parse_verdict(raw).verdict is Verdict.UNPARSABLE
