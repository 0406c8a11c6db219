"""The LiteLLM weak client against servers other than Groq: the key it sends, and the hint for a server that is not Groq."""

from __future__ import annotations

import asyncio
import json

import pytest

from fakeprovider import OPENAI_CHAT_PATH, FakeProvider, Fault
from hybrid.errors import ProviderError
from hybrid.settings import load_settings
from hybrid.weak_client import NO_KEY, LiteLLMCompletion

MESSAGES = [{"role": "user", "content": "Name a prime number."}]


def _complete(client: LiteLLMCompletion) -> str:
    return asyncio.run(client.complete(MESSAGES, timeout=10)).text  # type: ignore[arg-type]


@pytest.mark.parametrize(("weak_key", "sent"), [(None, NO_KEY), ("local-server-key", "local-server-key")])
def test_custom_server_never_gets_openai_key(weak_key: str | None, sent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-environment-secret")

    with FakeProvider() as provider:
        provider.reply("Seven.")
        settings = load_settings(weak_model="openai/local-model", weak_api_base=f"{provider.url}/v1",
                                 weak_api_key=weak_key)
        text = _complete(LiteLLMCompletion(settings))
        [request] = [request for request in provider.requests if request.path == OPENAI_CHAT_PATH]

    assert text == "Seven."
    assert request.headers["authorization"] == f"Bearer {sent}"
    assert request.body is not None
    assert request.body["model"] == "local-model"


def test_groq_model_on_other_server_hints_openai_prefix() -> None:
    # A reply without Groq's service_tier field, as an OpenAI-compatible server may send it. The fake sends a text body unchanged.
    reply = {"id": "r1", "object": "chat.completion", "created": 1, "model": "local-model",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "Seven."}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}}

    with FakeProvider() as provider:
        provider.fault(Fault(status=200, body=json.dumps(reply)))
        settings = load_settings(weak_model="groq/local-model", groq_base_url=provider.url, groq_api_key="gsk-test",
                                 weak_retries=0)
        with pytest.raises(ProviderError) as caught:
            _complete(LiteLLMCompletion(settings))

    assert caught.value.setting == "HYBRID_GROQ_BASE_URL"
    assert "HYBRID_WEAK_MODEL=openai/<model>" in str(caught.value)
    assert "gsk-test" not in str(caught.value)


def test_custom_server_rejected_key_names_weak_key_setting() -> None:
    with FakeProvider() as provider:
        provider.fault(Fault.unauthorized())
        settings = load_settings(weak_model="openai/local-model", weak_api_base=f"{provider.url}/v1",
                                 weak_api_key="wrong-key", weak_retries=0)
        with pytest.raises(ProviderError) as caught:
            _complete(LiteLLMCompletion(settings))

    assert caught.value.status == 401
    assert caught.value.setting == "HYBRID_WEAK_API_KEY"
    assert "wrong-key" not in str(caught.value)


@pytest.mark.parametrize(("fault", "status", "hint"), [
    (Fault.server_error(503), 503, "the provider failed"),
    (Fault.rate_limited(retry_after="0"), 429, "the provider is rate-limiting"),
])
def test_provider_status_hint(fault: Fault, status: int, hint: str) -> None:
    with FakeProvider() as provider:
        provider.fault(fault)
        settings = load_settings(weak_model="groq/some-model", groq_base_url=provider.url, groq_api_key="gsk-test",
                                 weak_retries=0)
        with pytest.raises(ProviderError) as caught:
            _complete(LiteLLMCompletion(settings))

    assert caught.value.status == status
    assert hint in str(caught.value)
    assert "openai/<model>" not in str(caught.value)


def test_refused_connection_has_no_status() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(weak_model="openai/local-model", weak_api_base=f"http://127.0.0.1:{port}/v1", weak_retries=0)

    with pytest.raises(ProviderError) as caught:
        _complete(LiteLLMCompletion(settings))

    assert caught.value.status is None
    assert f"no connection to http://127.0.0.1:{port}/v1" in str(caught.value)
    assert caught.value.setting == "HYBRID_WEAK_API_BASE"
