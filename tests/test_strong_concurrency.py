"""The strong client's worker threads: many calls in flight at once, and a timeout that counts the wait for a thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fakeprovider import OPENAI_CHAT_PATH, FakeProvider, Fault
from hybrid.errors import ProviderTimeoutError
from hybrid.settings import load_settings
from hybrid.strong_client import RestCompletion

MESSAGES = [{"role": "user", "content": "Name a prime number."}]
CALLS = 20


def _client(provider: FakeProvider, **overrides: object) -> RestCompletion:
    settings = load_settings(openai_base_url=f"{provider.url}/v1", openai_api_key="sk-test-concurrency",
                             strong_retries=0, **overrides)
    return RestCompletion(settings)


def test_calls_run_at_once() -> None:
    # Every call waits at the barrier until all of them have reached the server, so the test
    # passes only when the client keeps CALLS requests in flight together.
    barrier = threading.Barrier(CALLS, timeout=20)

    def answer_together(request: dict[str, object]) -> dict[str, object]:
        barrier.wait()
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Seven."},
                             "finish_reason": "stop"}]}

    async def run(client: RestCompletion) -> list[object]:
        return await asyncio.gather(*(client.complete(MESSAGES, timeout=30) for _ in range(CALLS)))

    with FakeProvider() as provider:
        provider.respond(answer_together, path=OPENAI_CHAT_PATH)
        completions = asyncio.run(run(_client(provider)))

    assert [completion.text for completion in completions] == ["Seven."] * CALLS


def test_wait_for_thread_counts_against_timeout() -> None:
    async def run(client: RestCompletion) -> list[object]:
        slow = asyncio.ensure_future(client.complete(MESSAGES, timeout=30))
        await asyncio.sleep(0.2)  # the slow call takes the only worker first
        queued = client.complete(MESSAGES, timeout=0.5)
        return await asyncio.gather(slow, queued, return_exceptions=True)

    with FakeProvider() as provider:
        provider.reply("Seven.", path=OPENAI_CHAT_PATH)
        provider.fault(Fault(status=200, delay_s=2.0), path=OPENAI_CHAT_PATH, times=1)  # newest rule first
        slow, queued = asyncio.run(run(_client(provider, strong_max_concurrency=1)))

    assert isinstance(queued, ProviderTimeoutError)
    assert queued.setting == "HYBRID_STRONG_MAX_CONCURRENCY"
    assert "waited 0.5 s for a free worker thread" in str(queued)
    assert not isinstance(slow, BaseException)
    assert len([request for request in provider.requests if request.path == OPENAI_CHAT_PATH]) == 1


def test_concurrency_setting_validated() -> None:
    from hybrid.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="HYBRID_STRONG_MAX_CONCURRENCY"):
        load_settings(strong_max_concurrency=0)

