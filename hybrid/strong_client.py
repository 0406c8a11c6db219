"""The strong model, called with `requests` on an OpenAI-compatible `/chat/completions`.

This path deliberately avoids LiteLLM, so the fallback still works when the
LiteLLM path is broken. Retries are bounded by HYBRID_STRONG_RETRIES: urllib3's
`Retry` on the session retries refused connections, and tenacity retries HTTP
429 and 5xx answers, waiting as `Retry-After` says (seconds or an HTTP date) up
to HYBRID_RETRY_AFTER_CAP, or with exponential backoff when it is absent. A 429
`insufficient_quota` and every other 4xx are never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import tenacity
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hybrid.backends import Completion, Message
from hybrid.errors import ModelNotFoundError, ProviderError, ProviderTimeoutError, QuotaExceededError
from hybrid.provider_errors import is_model_missing, is_quota_exhausted
from hybrid.settings import HybridSettings

__all__ = ["RestCompletion", "StreamChunk", "parse_retry_after"]

logger = logging.getLogger("hybrid.strong_client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class StreamChunk:
    """A piece of a streamed answer; the last piece has empty text and the usage, when known."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class RestCompletion:
    """A CompletionBackend for the strong model over plain HTTPS.

    `stage` is "strong" when the router picked the strong model and "fallback"
    when it re-runs a rejected weak answer. The optional fallback system prompt
    is added only in the second case.
    """

    def __init__(self, settings: HybridSettings, *, stage: str = "strong") -> None:
        self.model = settings.strong_model.removeprefix("openai/")
        self._stage = stage
        self._url = settings.openai_base_url + "/chat/completions"
        self._key = settings.openai_api_key
        self._connect_timeout = settings.strong_connect_timeout
        self._attempts = settings.strong_retries + 1
        self._system_prompt = settings.fallback_system_prompt if stage == "fallback" else None
        self._retry_after_cap = settings.retry_after_cap
        self._session = _make_session(settings.strong_retries, pool_size=settings.strong_max_concurrency)
        # Its own threads: asyncio's default pool has min(32, CPUs + 4) workers, which would queue
        # concurrent strong calls behind each other and behind routing on a small machine.
        self._workers = ThreadPoolExecutor(max_workers=settings.strong_max_concurrency,
                                           thread_name_prefix=f"hybrid-{stage}")

    async def complete(self, messages: list[Message], *, timeout: float) -> Completion:
        """Run the blocking HTTP call in a worker thread, off the event loop.

        Time spent waiting for a free worker counts against `timeout`.
        """
        queued = time.perf_counter()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._workers, self._complete_after_wait, messages, timeout, queued)

    def _complete_after_wait(self, messages: list[Message], timeout: float, queued: float) -> Completion:
        left = timeout - (time.perf_counter() - queued)
        if left <= 0:
            raise ProviderTimeoutError(
                f"{self._stage} model {self.model} waited {timeout:g} s for a free worker thread; raise "
                "HYBRID_STRONG_MAX_CONCURRENCY or send fewer concurrent requests",
                stage=self._stage, model=self.model, attempts=0, setting="HYBRID_STRONG_MAX_CONCURRENCY",
            )
        return self.complete_sync(messages, timeout=left)

    def complete_sync(self, messages: list[Message], *, timeout: float) -> Completion:
        response = self._post(messages, timeout, stream=False)
        return self._parse(response)

    async def stream(self, messages: list[Message], *, timeout: float) -> AsyncIterator[StreamChunk]:
        """Stream the answer; each blocking read runs in a worker thread, off the event loop."""
        chunks = self.stream_sync(messages, timeout=timeout)
        end = object()
        try:
            while True:
                chunk = await asyncio.get_running_loop().run_in_executor(self._workers, next, chunks, end)
                if chunk is end:
                    return
                yield chunk  # type: ignore[misc]
        finally:
            # A worker thread may still be inside next() when the consumer stops early, and close()
            # then raises ValueError. The response is closed when the generator is collected.
            with contextlib.suppress(ValueError):
                chunks.close()

    def stream_sync(self, messages: list[Message], *, timeout: float) -> Generator[StreamChunk, None, None]:
        """Stream the answer over server-sent events and yield its text pieces.

        The last chunk has empty text and the usage, when the provider sends it.
        Raises the same errors as `complete_sync`: before the first chunk for a
        failed request, and later when the stream breaks or ends early.
        `timeout` bounds each read, not the whole answer.
        """
        response = self._post(messages, timeout, stream=True, extra={"stream": True, "stream_options": {"include_usage": True}})
        if response.status_code >= 400:
            with response:
                raise self._status_error(response.status_code, response.text[:2000])

        prompt_tokens = completion_tokens = None
        finished = False
        with response:
            try:
                # Server-sent events are UTF-8 by definition, whatever charset the Content-Type names.
                for raw_line in response.iter_lines():
                    line = raw_line.decode("utf-8", errors="replace")
                    if not line.startswith("data:"):
                        continue
                    data = line.removeprefix("data:").strip()
                    if data == "[DONE]":
                        finished = True
                        break

                    event = self._parse_event(data)
                    usage = event.get("usage") or {}
                    prompt_tokens = usage.get("prompt_tokens", prompt_tokens)
                    completion_tokens = usage.get("completion_tokens", completion_tokens)
                    for choice in event.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            yield StreamChunk(text)
            except requests.exceptions.Timeout:
                raise ProviderTimeoutError(
                    f"{self._stage} model {self.model} stopped streaming for {timeout:g} s; raise HYBRID_STRONG_TIMEOUT",
                    stage=self._stage, model=self.model, attempts=1, setting="HYBRID_STRONG_TIMEOUT",
                ) from None
            except requests.exceptions.RequestException as error:
                raise ProviderError(
                    f"{self._stage} model {self.model} broke off its stream ({type(error).__name__})",
                    stage=self._stage, model=self.model, status=response.status_code, attempts=1,
                ) from None

        if not finished:
            raise ProviderError(
                f"{self._stage} model {self.model} ended its stream without the final [DONE] event",
                stage=self._stage, model=self.model, status=response.status_code, attempts=1,
            )
        yield StreamChunk("", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def _post(self, messages: list[Message], timeout: float, *, stream: bool,
              extra: dict[str, object] | None = None) -> requests.Response:
        if self._key is None or not self._key.get_secret_value():
            raise ProviderError(
                f"no API key for the {self._stage} model {self.model}; set HYBRID_OPENAI_API_KEY or OPENAI_API_KEY",
                stage=self._stage, model=self.model, attempts=0, setting="HYBRID_OPENAI_API_KEY",
            )

        if self._system_prompt:
            messages = [{"role": "system", "content": self._system_prompt}, *messages]
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0, **(extra or {})}

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._attempts),
            wait=_RetryAfterWait(self._retry_after_cap),
            retry=tenacity.retry_if_result(_should_retry),
            retry_error_callback=lambda state: state.outcome.result(),  # hand the last answer to the caller
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(
                self._session.post,
                self._url,
                json=payload,
                headers={"Authorization": f"Bearer {self._key.get_secret_value()}"},
                timeout=(self._connect_timeout, timeout),
                stream=stream,
            )
        except requests.exceptions.Timeout:
            raise ProviderTimeoutError(
                f"{self._stage} model {self.model} timed out (connect {self._connect_timeout:g} s, read {timeout:g} s); "
                "check HYBRID_OPENAI_BASE_URL or raise HYBRID_STRONG_TIMEOUT",
                stage=self._stage, model=self.model, attempts=self._attempts, setting="HYBRID_STRONG_TIMEOUT",
            ) from None
        except requests.exceptions.RetryError as error:
            raise ProviderError(
                f"{self._stage} model {self.model} kept failing after {self._attempts} attempts ({_reason(error)}); "
                "check the provider status and HYBRID_OPENAI_BASE_URL",
                stage=self._stage, model=self.model, attempts=self._attempts, setting="HYBRID_OPENAI_BASE_URL",
            ) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as error:
            # The response started and broke off, so the server was reached. It is not resent, because it may be billed.
            raise ProviderError(
                f"{self._stage} model {self.model} broke off its response ({type(error).__name__}); the provider "
                "closed the connection before the response was complete",
                stage=self._stage, model=self.model, attempts=1,
            ) from None
        except requests.exceptions.RequestException as error:
            raise ProviderError(
                f"{self._stage} model {self.model} is unreachable ({type(error).__name__}); check HYBRID_OPENAI_BASE_URL",
                stage=self._stage, model=self.model, attempts=self._attempts, setting="HYBRID_OPENAI_BASE_URL",
            ) from None

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        response = state.outcome.result() if state.outcome is not None else None
        status = getattr(response, "status_code", None)
        logger.warning("%s model %s answered HTTP %s; retry %d of %d in %.1f s", self._stage, self.model, status,
                       state.attempt_number, self._attempts - 1, state.next_action.sleep if state.next_action else 0.0)

    def _parse_event(self, data: str) -> dict[str, Any]:
        """Decode one server-sent event of the stream; an error event raises ProviderError."""
        try:
            event = json.loads(data)
        except (json.JSONDecodeError, ValueError):
            raise ProviderError(
                f"{self._stage} model {self.model} streamed an event that is not JSON: {data[:120]!r}",
                stage=self._stage, model=self.model, status=200, attempts=1,
            ) from None
        if not isinstance(event, dict):
            raise ProviderError(f"{self._stage} model {self.model} streamed an event that is not a JSON object",
                                stage=self._stage, model=self.model, status=200, attempts=1)
        if "error" in event:
            raise ProviderError(
                f"{self._stage} model {self.model} sent an error in its stream: {str(event['error'])[:300]}",
                stage=self._stage, model=self.model, status=200, attempts=1,
            )
        return event

    def _parse(self, response: requests.Response) -> Completion:
        status = response.status_code
        if status >= 400:
            raise self._status_error(status, response.text[:2000])

        try:
            body = response.json()
        except (json.JSONDecodeError, ValueError):
            raise ProviderError(
                f"{self._stage} model {self.model} returned HTTP {status} with a body that is not JSON",
                stage=self._stage, model=self.model, status=status, attempts=self._attempts,
            ) from None

        choices = body.get("choices") if isinstance(body, dict) else None
        if not choices:
            raise ProviderError(
                f"{self._stage} model {self.model} returned no choices",
                stage=self._stage, model=self.model, status=status, attempts=self._attempts,
            )

        message = choices[0].get("message") or {}
        usage = body.get("usage") or {}
        return Completion(
            text=message.get("content") or "",
            model=self.model,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    def _status_error(self, status: int, body: str) -> Exception:
        if is_model_missing(status, body):
            return ModelNotFoundError(
                f"the provider does not serve strong model {self.model!r} (HTTP {status}); set HYBRID_STRONG_MODEL "
                "to a current model name",
                setting="HYBRID_STRONG_MODEL", model=self.model, stage=self._stage,
            )
        if is_quota_exhausted(status, body):
            return QuotaExceededError(
                f"the account behind HYBRID_OPENAI_API_KEY has no quota left (HTTP 429 insufficient_quota); "
                "add credit or use another key",
                stage=self._stage, model=self.model, status=status, attempts=1, setting="HYBRID_OPENAI_API_KEY",
            )
        setting = "HYBRID_OPENAI_API_KEY" if status in (401, 403) else "HYBRID_OPENAI_BASE_URL"
        return ProviderError(
            f"{self._stage} model {self.model} failed with HTTP {status}; check {setting}",
            stage=self._stage, model=self.model, status=status, attempts=self._attempts, setting=setting,
        )

    def __repr__(self) -> str:
        return f"RestCompletion(model={self.model!r}, url={self._url!r}, stage={self._stage!r})"


def _make_session(retries: int, *, pool_size: int) -> requests.Session:
    """Build a session whose urllib3 Retry covers refused connections only, since tenacity handles statuses.

    `pool_size` connections are kept per host, one for each worker thread.
    """
    # read=False re-raises a read timeout as itself: the request may have reached the model,
    # so resending it could bill twice.
    retry = Retry(total=retries, connect=retries, read=False, status=0, other=0, backoff_factor=0.5,
                  allowed_methods=frozenset({"POST"}), raise_on_status=False)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=pool_size))
    session.mount("https://", HTTPAdapter(max_retries=retry, pool_maxsize=pool_size))
    return session


def _should_retry(response: requests.Response) -> bool:
    """Retry 429 and 5xx answers, except a 429 that reports an exhausted quota."""
    if response.status_code not in RETRY_STATUSES:
        return False
    return not is_quota_exhausted(response.status_code, response.text[:2000])


class _RetryAfterWait(tenacity.wait.wait_base):
    """Wait for the `Retry-After` of the answer, capped, or back off exponentially when it is absent."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.backoff = tenacity.wait_exponential(multiplier=0.5, max=cap)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        response = retry_state.outcome.result() if retry_state.outcome is not None else None
        header = response.headers.get("Retry-After") if response is not None else None
        seconds = parse_retry_after(header) if header else None
        if seconds is None:
            return float(self.backoff(retry_state))
        return min(seconds, self.cap)


def parse_retry_after(value: str) -> float | None:
    """Return the wait in seconds that a `Retry-After` header requests, given as seconds or as an HTTP date."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _reason(error: requests.exceptions.RetryError) -> str:
    cause = error.args[0] if error.args else error
    return str(getattr(cause, "reason", cause))[:200]
