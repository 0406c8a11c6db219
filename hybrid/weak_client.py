"""The weak model, called through LiteLLM."""

from __future__ import annotations

import asyncio
import logging

from pydantic import SecretStr

from hybrid.backends import Completion, Message
from hybrid.errors import ConfigurationError, ModelNotFoundError, ProviderError, ProviderTimeoutError
from hybrid.provider_errors import is_model_missing
from hybrid.settings import HybridSettings

__all__ = ["LiteLLMCompletion"]

logger = logging.getLogger("hybrid.weak_client")

# The key sent to a server named by HYBRID_WEAK_API_BASE when HYBRID_WEAK_API_KEY is unset.
NO_KEY = "no-key"

# Groq's API host, recognised in HYBRID_GROQ_BASE_URL to tell Groq from other servers.
GROQ_HOST = "api.groq.com"

# Phrases in LiteLLM's messages for a call that never reached the server, which it reports as HTTP 500.
_CONNECTION_MARKERS = ("Cannot connect to host", "Connection error", "Connect call failed", "Connection refused")

# The setting that names the model, by pipeline stage.
_MODEL_SETTINGS = {"weak": "HYBRID_WEAK_MODEL", "cascade": "HYBRID_CASCADE_TIERS", "parallel": "HYBRID_PARALLEL_MODELS"}


class LiteLLMCompletion:
    """A CompletionBackend for any LiteLLM model name, such as `groq/openai/gpt-oss-20b`.

    For `groq/` models the Groq base URL and key from settings are passed
    explicitly, so LiteLLM never falls back to its own environment defaults.
    A model on HYBRID_WEAK_API_BASE gets HYBRID_WEAK_API_KEY, or the placeholder
    `no-key` for servers that need none, so OPENAI_API_KEY never reaches that server.
    """

    def __init__(self, settings: HybridSettings, *, model: str | None = None, stage: str = "weak") -> None:
        import litellm  # import here, at start-up, not inside the first request (about 3 s)

        # LiteLLM prints a feedback banner to stdout on every failed call, which would corrupt
        # `hybrid ask --json` and the server's output. The error itself still reaches the caller.
        litellm.suppress_debug_info = True

        self.model = model or settings.weak_model
        self._stage = stage
        self._model_setting = _MODEL_SETTINGS.get(stage, "HYBRID_WEAK_MODEL")
        self._retries = settings.weak_retries
        self._api_base = settings.weak_api_base
        self._api_key: SecretStr | None = None
        self._groq = self.model.startswith("groq/")
        if self._groq:
            self._api_base = self._api_base or settings.groq_base_url.removesuffix("/openai/v1") + "/openai/v1"
            self._api_key = settings.groq_api_key
        elif self._api_base:
            # Always pass a key to a custom server: without one, LiteLLM would send OPENAI_API_KEY there.
            self._api_key = settings.weak_api_key or SecretStr(NO_KEY)
        self._base_setting = "HYBRID_GROQ_BASE_URL" if self._groq else "HYBRID_WEAK_API_BASE"
        self._key_setting = "HYBRID_GROQ_API_KEY" if self._groq else "HYBRID_WEAK_API_KEY"

    async def complete(self, messages: list[Message], *, timeout: float) -> Completion:
        import litellm

        if self.model.startswith("groq/") and (self._api_key is None or not self._api_key.get_secret_value()):
            raise ConfigurationError(
                f"weak model {self.model} needs a Groq API key; set HYBRID_GROQ_API_KEY or GROQ_API_KEY",
                setting="HYBRID_GROQ_API_KEY",
            )

        options: dict[str, object] = {"timeout": timeout, "num_retries": self._retries, "max_retries": self._retries}
        if self._api_base:
            options["api_base"] = self._api_base
        if self._api_key is not None:
            options["api_key"] = self._api_key.get_secret_value()

        import openai

        try:
            response = await asyncio.wait_for(
                litellm.acompletion(model=self.model, messages=messages, **options), timeout=timeout + 1
            )
        except (asyncio.TimeoutError, openai.APITimeoutError):
            raise ProviderTimeoutError(
                f"{self._stage} model {self.model} timed out after {timeout:g} s; raise HYBRID_WEAK_TIMEOUT if it is slow",
                stage=self._stage, model=self.model, attempts=self._retries + 1, setting="HYBRID_WEAK_TIMEOUT",
            ) from None
        except openai.APIError as error:
            # LiteLLM's exception types all derive from the openai SDK's APIError.
            raise self._translate(error) from None
        except Exception as error:
            # Anything else LiteLLM raises (a body it cannot decode, say) is still a failed call,
            # which the pipeline answers by falling back to the strong model.
            logger.debug("%s model %s raised %s", self._stage, self.model, type(error).__name__, exc_info=True)
            raise ProviderError(
                f"{self._stage} model {self.model} failed: {type(error).__name__}: {self._cause(str(error))}; "
                f"{self._base_hint()}",
                stage=self._stage, model=self.model, attempts=self._retries + 1, setting=self._base_setting,
            ) from None

        return _to_completion(response, self.model, stage=self._stage)

    def _translate(self, error: Exception) -> Exception:
        status = getattr(error, "status_code", None)
        message = str(getattr(error, "message", "") or error)
        if is_model_missing(status, message):
            return ModelNotFoundError(
                f"the provider does not serve {self._stage} model {self.model!r} (HTTP {status}); "
                f"set {self._model_setting} to a current model name",
                setting=self._model_setting, model=self.model, stage=self._stage,
            )
        import openai

        # LiteLLM gives connection errors a status of 500 although no answer arrived; report a
        # status only for errors that carry one from the provider.
        connection_failed = any(marker in message for marker in _CONNECTION_MARKERS)
        if not isinstance(error, openai.APIStatusError) or connection_failed:
            status = None

        setting = self._key_setting if status in (401, 403) else self._base_setting
        if connection_failed:
            hint = f"no connection to {self._api_base or 'the provider'}; check {self._base_setting}"
        elif status in (401, 403):
            hint = f"check {setting}"
        elif status == 429:
            hint = "the provider is rate-limiting; raise HYBRID_WEAK_RETRIES or send fewer requests"
        elif status is not None and status >= 500:
            hint = f"the provider failed; retry later, or check {setting} if it names the wrong server"
        else:
            hint = self._base_hint()
        shown = f" (HTTP {status})" if status is not None else ""
        return ProviderError(
            f"{self._stage} model {self.model} failed: {type(error).__name__}{shown}: {self._cause(message)}; "
            f"{hint}",
            stage=self._stage, model=self.model, status=status, attempts=self._retries + 1, setting=setting,
        )

    def _base_hint(self) -> str:
        if self._groq and GROQ_HOST not in (self._api_base or ""):
            return (f"check {self._base_setting}. LiteLLM's groq/ models expect Groq's own replies; for another "
                    "OpenAI-compatible server, set HYBRID_WEAK_MODEL=openai/<model> and HYBRID_WEAK_API_BASE")
        return f"check {self._base_setting}"

    def _cause(self, message: str) -> str:
        """The provider's message, shortened, with the API key removed should it appear."""
        text = " ".join(message.split())[:300]
        if self._api_key is not None and self._api_key.get_secret_value():
            text = text.replace(self._api_key.get_secret_value(), "**********")
        return text


def _to_completion(response: object, model: str, *, stage: str) -> Completion:
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise ProviderError(
            f"{stage} model {model} returned no choices", stage=stage, model=model, status=200
        )

    message = getattr(choices[0], "message", None)
    text = getattr(message, "content", None) or ""
    usage = getattr(response, "usage", None)
    return Completion(
        text=text,
        model=model,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
    )
