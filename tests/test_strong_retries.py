"""The strong-model REST client: which answers it retries, how long it waits, and what it raises."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from fakeprovider import Fault, FakeProvider
from hybrid.errors import ModelNotFoundError, ProviderError, ProviderTimeoutError, QuotaExceededError
from hybrid.settings import load_settings
from hybrid.strong_client import RestCompletion, parse_retry_after

MESSAGES = [{"role": "user", "content": "Capital of France?"}]
PATH = "/v1/chat/completions"


def client(provider: FakeProvider, **overrides: object) -> RestCompletion:
    options: dict[str, object] = {"openai_base_url": provider.url + "/v1", "openai_api_key": "sk-retries",
                                  "strong_retries": 2, "retry_after_cap": 10.0}
    options.update(overrides)
    return RestCompletion(load_settings(**options), stage="fallback")


def sent(provider: FakeProvider) -> int:
    return sum(1 for request in provider.requests if request.path == PATH)


def test_quota_error_sends_one_request(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault.quota(), path=PATH)

    with pytest.raises(QuotaExceededError) as caught:
        client(fake_provider).complete_sync(MESSAGES, timeout=5)

    assert sent(fake_provider) == 1
    assert caught.value.setting == "HYBRID_OPENAI_API_KEY"
    assert caught.value.status == 429


def test_rate_limit_waits_for_retry_after(fake_provider: FakeProvider) -> None:
    fake_provider.reply("Paris.", path=PATH)
    fake_provider.fault(Fault.rate_limited(retry_after="3"), path=PATH, times=1)

    started = time.monotonic()
    completion = client(fake_provider).complete_sync(MESSAGES, timeout=5)
    elapsed = time.monotonic() - started

    assert completion.text == "Paris."
    assert sent(fake_provider) == 2
    assert elapsed >= 3.0


def test_retry_after_http_date(fake_provider: FakeProvider) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    fake_provider.reply("Paris.", path=PATH)
    fake_provider.fault(Fault.rate_limited(retry_after=when), path=PATH, times=1)

    started = time.monotonic()
    client(fake_provider).complete_sync(MESSAGES, timeout=5)
    elapsed = time.monotonic() - started

    assert sent(fake_provider) == 2
    assert elapsed >= 1.5  # the date has one-second resolution


def test_retry_after_capped(fake_provider: FakeProvider) -> None:
    fake_provider.reply("Paris.", path=PATH)
    fake_provider.fault(Fault.rate_limited(retry_after="47"), path=PATH, times=1)

    started = time.monotonic()
    client(fake_provider, retry_after_cap=0.5).complete_sync(MESSAGES, timeout=5)
    elapsed = time.monotonic() - started

    assert sent(fake_provider) == 2
    assert 0.5 <= elapsed < 5.0


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_retried_then_raised(status: int, fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault.server_error(status), path=PATH)

    with pytest.raises(ProviderError) as caught:
        client(fake_provider, retry_after_cap=0.1).complete_sync(MESSAGES, timeout=5)

    assert sent(fake_provider) == 3
    assert caught.value.status == status
    assert caught.value.stage == "fallback"
    assert "HTTP" in str(caught.value) and "HYBRID_OPENAI_BASE_URL" in str(caught.value)


@pytest.mark.parametrize("fault, status, error_type, setting", [
    (Fault.unauthorized(), 401, ProviderError, "HYBRID_OPENAI_API_KEY"),
    (Fault.decommissioned("gpt-4o"), None, ModelNotFoundError, "HYBRID_STRONG_MODEL"),
    (Fault(status=413, body={"error": {"message": "Request too large", "code": "request_too_large"}}), 413,
     ProviderError, "HYBRID_OPENAI_BASE_URL"),
])
def test_client_errors_not_retried(fault: Fault, status: int | None, error_type: type, setting: str,
                                   fake_provider: FakeProvider) -> None:
    fake_provider.fault(fault, path=PATH)

    with pytest.raises(error_type) as caught:
        client(fake_provider).complete_sync(MESSAGES, timeout=5)

    assert sent(fake_provider) == 1
    assert caught.value.setting == setting
    if status is not None:
        assert caught.value.status == status


@pytest.mark.parametrize("fault", [Fault(status=200, malformed=True), Fault.empty_choices(),
                                   Fault(status=200, truncate_stream=True)])
def test_broken_bodies_raise(fault: Fault, fake_provider: FakeProvider) -> None:
    fake_provider.fault(fault, path=PATH)

    with pytest.raises(ProviderError):
        client(fake_provider).complete_sync(MESSAGES, timeout=5)


def test_read_timeout(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault(status=200, delay_s=3.0), path=PATH)

    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError) as caught:
        client(fake_provider).complete_sync(MESSAGES, timeout=0.5)

    assert time.monotonic() - started < 2.5
    assert caught.value.setting == "HYBRID_STRONG_TIMEOUT"


def test_connect_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(openai_base_url=f"http://127.0.0.1:{port}/v1", openai_api_key="sk-x", strong_retries=1)

    with pytest.raises(ProviderError) as caught:
        RestCompletion(settings).complete_sync(MESSAGES, timeout=1)

    assert caught.value.setting == "HYBRID_OPENAI_BASE_URL"


@pytest.mark.parametrize("value, low, high", [
    ("3", 3.0, 3.0),
    (" 0.5 ", 0.5, 0.5),
    ("-4", 0.0, 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, 0.0),  # a date in the past asks for no wait
    ("soon", None, None),
])
def test_parse_retry_after(value: str, low: float | None, high: float | None) -> None:
    parsed = parse_retry_after(value)

    if low is None:
        assert parsed is None
    else:
        assert low <= parsed <= high


def test_broken_off_answer_named(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault(status=200, truncate_stream=True), path=PATH)

    with pytest.raises(ProviderError) as caught:
        client(fake_provider).complete_sync(MESSAGES, timeout=10)

    assert "broke off its response" in str(caught.value)
    assert "unreachable" not in str(caught.value)
    assert sent(fake_provider) == 1
