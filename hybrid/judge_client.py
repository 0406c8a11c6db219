"""The judge model, called through the `groq` SDK in JSON mode at temperature 0."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from hybrid.backends import JudgeReply, Message
from hybrid.errors import ConfigurationError, JudgeError, ModelNotFoundError
from hybrid.provider_errors import is_model_missing
from hybrid.settings import HybridSettings

__all__ = ["GroqJudge", "groq_sdk_base_url"]

logger = logging.getLogger("hybrid.judge")

_SDK_SUFFIX = "/openai/v1"


def groq_sdk_base_url(url: str) -> str:
    """Return the bare host URL the groq SDK expects.

    The SDK appends `/openai/v1` itself; a URL that already ends with it would
    make every call go to a doubled path and fail with 404 `unknown_url`.
    """
    bare = url.rstrip("/")
    while bare.endswith(_SDK_SUFFIX):
        bare = bare.removesuffix(_SDK_SUFFIX).rstrip("/")
    return bare


class GroqJudge:
    """A JudgeBackend on Groq. The SDK's own retries are set from HYBRID_JUDGE_RETRIES."""

    def __init__(self, settings: HybridSettings) -> None:
        self.model = settings.judge_model
        self._key = settings.groq_api_key
        self._base_url = groq_sdk_base_url(settings.groq_base_url)
        self._retries = settings.judge_retries
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        import groq  # noqa: F401  # import at start-up rather than inside the first request

    async def judge(self, messages: list[Message], *, timeout: float) -> JudgeReply:
        import groq

        client = self._get_client()
        try:
            response = await client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=0,
                response_format={"type": "json_object"},
                timeout=timeout,
            )
        except groq.APITimeoutError:
            raise JudgeError(f"judge model {self.model} timed out after {timeout:g} s", model=self.model) from None
        except groq.APIStatusError as error:
            return self._reply_from_error(error)
        except groq.APIError as error:
            raise JudgeError(
                f"judge model {self.model} is unreachable ({type(error).__name__}); check HYBRID_GROQ_BASE_URL",
                model=self.model,
            ) from None
        except Exception as error:
            # The SDK raises plain exceptions too, such as JSONDecodeError on a malformed body.
            logger.debug("judge model %s raised %s", self.model, type(error).__name__, exc_info=True)
            raise JudgeError(f"judge model {self.model} failed: {type(error).__name__}", model=self.model) from None

        choices = response.choices or []
        if not choices:
            raise JudgeError(f"judge model {self.model} returned no choices", model=self.model, status=200)

        usage = response.usage
        return JudgeReply(
            raw=choices[0].message.content or "",
            model=self.model,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )

    def _get_client(self) -> Any:
        """Return the SDK client for the running event loop, once a key is known to exist."""
        if self._key is None or not self._key.get_secret_value():
            raise ConfigurationError(
                "the judge needs a Groq API key; set HYBRID_GROQ_API_KEY or GROQ_API_KEY",
                setting="HYBRID_GROQ_API_KEY",
            )
        # The SDK's connection pool belongs to the event loop that opened it, and each
        # synchronous `ask` runs on a fresh loop, so a client is built per loop.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            import groq

            self._client_loop = loop
            self._client = groq.AsyncGroq(
                api_key=self._key.get_secret_value(), base_url=self._base_url, max_retries=self._retries
            )
        return self._client

    def _reply_from_error(self, error: object) -> JudgeReply:
        """Recover the verdict from a 400 `json_validate_failed`, or raise a typed error."""
        status = getattr(error, "status_code", None)
        body = getattr(error, "body", None)
        text = json.dumps(body) if body is not None else str(error)

        if is_model_missing(status, text):
            raise ModelNotFoundError(
                f"Groq does not serve judge model {self.model!r} (HTTP {status}); set HYBRID_JUDGE_MODEL to a current model",
                setting="HYBRID_JUDGE_MODEL", model=self.model, stage="judge",
            )

        failed = _failed_generation(body)
        if status == 400 and failed is not None:
            logger.info("judge returned json_validate_failed; parsing its failed_generation")
            return JudgeReply(raw=failed, model=self.model)

        hint = "HYBRID_GROQ_API_KEY" if status in (401, 403) else "HYBRID_GROQ_BASE_URL"
        raise JudgeError(f"judge model {self.model} failed with HTTP {status}; check {hint}", model=self.model, status=status)


def _failed_generation(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if isinstance(error, dict) and error.get("code") == "json_validate_failed":
        failed = error.get("failed_generation")
        return failed if isinstance(failed, str) else ""
    return None
