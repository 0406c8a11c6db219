"""Settings, read from HYBRID_* environment variables and an optional settings file.

Constructor arguments override the environment, which override the file.
"""

from __future__ import annotations

import difflib
import io
import json
import logging
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from hybrid.errors import ConfigurationError

__all__ = ["DEFAULT_SETTINGS_FILE", "HybridSettings", "ModelPrice", "load_settings"]

DEFAULT_SETTINGS_FILE = "settings.env"

logger = logging.getLogger("hybrid.settings")

# Unknown HYBRID_* environment variables already warned about in this process.
_warned_names: set[str] = set()

LogPolicy = Literal["full", "hash", "none"]
JudgeLanguage = Literal["en", "pt-BR"]
CascadeJudgeError = Literal["reject", "skip"]

# The parallel judge labels candidates A to Z.
MAX_PARALLEL_MODELS = 26


class ModelPrice(BaseModel):
    """A model's price in US dollars per million tokens."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class HybridSettings(BaseSettings):
    """Every setting hybrid reads. Keys are SecretStr and never printed."""

    model_config = SettingsConfigDict(
        env_prefix="HYBRID_",
        env_file=None,
        env_ignore_empty=True,
        extra="forbid",
        validate_default=True,
    )

    # Models. The weak model is a LiteLLM model name; the strong model is sent as-is
    # to an OpenAI-compatible REST endpoint; the judge is a Groq model id.
    strong_model: str = "gpt-4o"
    weak_model: str = "groq/openai/gpt-oss-20b"
    judge_model: str = "openai/gpt-oss-120b"

    # Router.
    router: Literal["mf"] = "mf"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    checkpoint: str | None = None
    # None: the embedder the checkpoint was trained with, from its hybrid.json.
    embedder: Literal["minilm", "wordllama", "openai"] | None = None

    # Providers.
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HYBRID_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key")
    )
    groq_base_url: str = "https://api.groq.com"
    groq_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HYBRID_GROQ_API_KEY", "GROQ_API_KEY", "groq_api_key")
    )
    weak_api_base: str | None = None
    weak_api_key: SecretStr | None = None

    # Timeouts in seconds, and retries after the first attempt.
    weak_timeout: float = Field(default=30.0, gt=0)
    judge_timeout: float = Field(default=20.0, gt=0)
    strong_connect_timeout: float = Field(default=5.0, gt=0)
    strong_timeout: float = Field(default=60.0, gt=0)
    embed_timeout: float = Field(default=10.0, gt=0)
    weak_retries: int = Field(default=0, ge=0, le=10)
    judge_retries: int = Field(default=0, ge=0, le=10)
    strong_retries: int = Field(default=2, ge=0, le=10)
    retry_after_cap: float = Field(default=10.0, ge=0)
    # Bound on a whole request, all stages together; None leaves only the stage timeouts.
    request_timeout: float | None = Field(default=120.0, gt=0)
    # Worker threads for the strong model's blocking HTTP calls, so the most strong calls in flight at once.
    strong_max_concurrency: int = Field(default=64, ge=1, le=1024)

    # Decision log and privacy.
    log_path: Path = Path("hybrid-decisions.jsonl")
    log_prompts: LogPolicy = "full"

    # Judge and fallback.
    judge_language: JudgeLanguage = "en"
    fallback_system_prompt: str | None = None

    # Prices for models missing from LiteLLM's price map, keyed by model name.
    prices: dict[str, ModelPrice] = Field(default_factory=dict)

    # Cascade mode: LiteLLM model names from cheapest to strongest. A tier named
    # like strong_model goes over the strong model's REST endpoint instead.
    cascade_tiers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["groq/openai/gpt-oss-20b", "groq/openai/gpt-oss-120b", "gpt-4o"]
    )
    cascade_max_tiers: int | None = Field(default=None, ge=1)
    cascade_budget_usd: float | None = Field(default=None, gt=0)
    cascade_judge_error: CascadeJudgeError = "reject"
    cascade_estimated_output_tokens: int = Field(default=512, ge=1)

    # Parallel mode: candidate models, the strongest last.
    parallel_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["groq/openai/gpt-oss-20b", "groq/openai/gpt-oss-120b", "gpt-4o"]
    )
    parallel_concurrency: int = Field(default=4, ge=1, le=64)
    parallel_swap: bool = False
    parallel_seed: int | None = None

    @field_validator("openai_base_url", "groq_base_url", "weak_api_base")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("openai_api_key", "groq_api_key")
    @classmethod
    def _blank_key_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("cascade_tiers", "parallel_models", mode="before")
    @classmethod
    def _split_model_list(cls, value: object) -> object:
        """Accept a JSON list or a comma-separated string, as people write lists in env files."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"{value!r} is not a JSON list ({error.msg}); write a,b,c or [\"a\", \"b\"]") from None
        return [name for name in text.split(",")]

    @field_validator("cascade_tiers", "parallel_models")
    @classmethod
    def _check_model_list(cls, value: list[str]) -> list[str]:
        names = [name.strip() for name in value]
        if not names:
            raise ValueError("the list is empty; give at least one model name")
        if any(not name for name in names):
            raise ValueError(f"the list {value!r} contains an empty model name")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"models {repeated} are listed more than once; list each model once")
        if len(names) > MAX_PARALLEL_MODELS:
            raise ValueError(f"{len(names)} models are listed; the maximum is {MAX_PARALLEL_MODELS}")
        return names

    @field_validator("strong_model", "weak_model", "judge_model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a model name cannot be empty")
        return value.strip()


def load_settings(settings_file: str | Path | None = None, **overrides: object) -> HybridSettings:
    """Build settings from the environment, `settings_file` and `overrides`.

    With no file given, `settings.env` in the working directory is read if it
    exists. A file that was named explicitly must exist and be readable.
    """
    env_file: Path | None = None
    if settings_file is not None:
        env_file = Path(settings_file)
        if env_file.is_dir():
            raise ConfigurationError(f"settings file {str(env_file)!r} is a directory; name the settings file inside it")
        if not env_file.is_file():
            raise ConfigurationError(f"settings file {str(env_file)!r} does not exist; copy settings.env.example")
    elif Path(DEFAULT_SETTINGS_FILE).is_file():
        env_file = Path(DEFAULT_SETTINGS_FILE)

    if env_file is not None:
        _check_settings_file_syntax(env_file)
    _warn_unknown_environment_names()

    try:
        return HybridSettings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from None
    except SettingsError as error:
        # pydantic-settings raises this when a dict or list value is not valid JSON.
        field = str(error).split('"')[1] if '"' in str(error) else "a setting"
        raise ConfigurationError(
            f"invalid settings: HYBRID_{field.upper()} is not valid JSON; see settings.env.example for its form",
            setting=f"HYBRID_{field.upper()}",
        ) from None


def _check_settings_file_syntax(path: Path) -> None:
    """Raise on a line that is not `NAME=value`, which python-dotenv would skip with only a warning."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"settings file {str(path)!r} cannot be read: {error}") from error

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.string.strip().splitlines()[0] if binding.original.string.strip() else ""
            name = line.split()[0] if line.split() else line
            raise ConfigurationError(
                f"settings file {str(path)!r}, line {binding.original.line}: cannot parse the line starting with "
                f"{name[:40]!r}; write each setting as NAME=value, for example HYBRID_THRESHOLD=0.3"
            )


def _warn_unknown_environment_names() -> None:
    """Log a WARNING for each HYBRID_* environment variable that names no setting, with the closest name."""
    known = {f"HYBRID_{name.upper()}" for name in HybridSettings.model_fields}
    for name in sorted(os.environ):
        if not name.upper().startswith("HYBRID_") or name.upper() in known or name in _warned_names:
            continue
        _warned_names.add(name)
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f"did you mean {close[0]}?" if close else "see settings.env.example for the names"
        logger.warning("environment variable %s is not a hybrid setting and is ignored; %s", name, hint)


def _describe(error: ValidationError) -> str:
    known = [f"HYBRID_{name.upper()}" for name in HybridSettings.model_fields]
    problems = []
    for item in error.errors():
        parts = [str(part) for part in item["loc"]]
        name = parts[0].upper()
        if not name.startswith("HYBRID_"):
            name = f"HYBRID_{name}"
        where = f" (key {'.'.join(parts[1:])!r})" if len(parts) > 1 else ""
        problem = f"{name}{where}: {item['msg']}"
        scalar = isinstance(item.get("input"), (str, int, float, bool))
        if scalar and "KEY" not in name and item["type"] not in ("extra_forbidden", "missing"):
            # Key values are never echoed. Other values are, so the message shows what was read.
            problem += f" (got {_shorten(item.get('input'))})"
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, known, n=1)
            problem += f"; did you mean {close[0]}?" if close else "; see settings.env.example for the names"
        problems.append(problem)
    return "invalid settings: " + "; ".join(problems)


def _shorten(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
