"""The OpenAI chat completions wire format of `hybrid serve`: model strings, requests, responses and errors.

The model field selects the mode. `router-<router>-<threshold>` routes only,
as RouteLLM's server does. `hybrid-<router>-<threshold>` runs the full
pipeline. `cascade`, `parallel`, `strong` and `weak` name their modes.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

from hybrid.errors import InputError
from hybrid.messages import normalize_messages
from hybrid.record import DecisionRecord, Mode, Stage

__all__ = [
    "ChatRequest",
    "RequestError",
    "chunk_body",
    "completion_body",
    "error_body",
    "metadata",
    "model_ids",
    "parse_chat_request",
    "parse_model",
    "usage_of",
]

PLAIN_MODES = {"cascade": Mode.CASCADE, "parallel": Mode.PARALLEL, "strong": Mode.STRONG, "weak": Mode.WEAK}
_ROUTED = re.compile(r"^(router|hybrid)-([a-z0-9_]+)-(.+)$")
# Record fields left out of the `hybrid` response field: the text is in the message already.
_PRIVATE_FIELDS = {"prompt", "prompt_sha256", "answer", "answer_sha256"}


class RequestError(Exception):
    """An invalid request, answered with HTTP 400 in OpenAI's error shape."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat completion request."""

    mode: Mode
    threshold: float | None
    messages: list[dict[str, object]]
    stream: bool
    include_usage: bool


def model_ids(router_name: str, threshold: float, *, parallel: bool) -> list[str]:
    """Return the model strings the server accepts, with the router's default threshold."""
    ids = [f"router-{router_name}-{threshold:g}", f"hybrid-{router_name}-{threshold:g}", "cascade"]
    if parallel:
        ids.append("parallel")
    return [*ids, "strong", "weak"]


def parse_model(model: object, router_name: str) -> tuple[Mode, float | None]:
    """Return the mode and threshold that a model string selects, or raise RequestError."""
    if not isinstance(model, str) or not model.strip():
        raise RequestError("the request has no model; pass one of the ids that GET /v1/models lists",
                           param="model", code="model_not_found")
    if model in PLAIN_MODES:
        return PLAIN_MODES[model], None

    matched = _ROUTED.match(model)
    if matched is None:
        raise RequestError(
            f"model {model!r} is unknown; use router-{router_name}-<threshold>, hybrid-{router_name}-<threshold>, "
            "cascade, parallel, strong or weak", param="model", code="model_not_found")

    kind, name, text = matched.groups()
    if name != router_name:
        raise RequestError(f"router {name!r} in model {model!r} is not served; this server routes with "
                           f"{router_name!r}", param="model", code="model_not_found")
    try:
        threshold = float(text)
    except ValueError:
        raise RequestError(f"threshold {text!r} in model {model!r} is not a number; use a value in [0, 1] "
                           f"such as {kind}-{router_name}-0.5", param="model", code="invalid_threshold") from None
    if not math.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise RequestError(f"threshold {text!r} in model {model!r} is outside [0, 1]; use a value such as "
                           f"{kind}-{router_name}-0.5", param="model", code="invalid_threshold")
    return (Mode.ROUTER if kind == "router" else Mode.HYBRID), threshold


def parse_chat_request(body: object, router_name: str) -> ChatRequest:
    """Validate a decoded request body, raising RequestError with the offending parameter."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")

    messages = body.get("messages")
    if messages is None:
        raise RequestError("the request has no messages; send a non-empty list of chat messages", param="messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages must be a non-empty list of chat messages", param="messages")
    try:
        normalized = normalize_messages(messages)
    except InputError as error:
        raise RequestError(str(error), param="messages") from None

    mode, threshold = parse_model(body.get("model"), router_name)
    check_options(body)

    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise RequestError(f"stream must be true or false, not {stream!r}", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise RequestError("stream_options must be an object", param="stream_options")

    return ChatRequest(mode=mode, threshold=threshold, messages=normalized, stream=stream,
                       include_usage=bool(options.get("include_usage", False)))


# OpenAI's ranges for the sampling options the server accepts and ignores: (low, high, integer only).
_SAMPLING_RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (0.0, 2.0, False),
    "top_p": (0.0, 1.0, False),
    "presence_penalty": (-2.0, 2.0, False),
    "frequency_penalty": (-2.0, 2.0, False),
    "max_tokens": (1, math.inf, True),
    "max_completion_tokens": (1, math.inf, True),
    "seed": (-math.inf, math.inf, True),
}
# Options whose effect the caller relies on, so ignoring them would break the caller.
_UNSUPPORTED = ("tools", "functions", "tool_choice", "function_call", "logprobs", "top_logprobs")


def check_options(body: dict[str, Any]) -> None:
    """Raise RequestError for an invalid sampling option or an option the server cannot honour.

    Valid sampling options are accepted and ignored, because each mode calls
    several models with settings of its own.
    """
    for name, (low, high, integer) in _SAMPLING_RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        number_type = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_type) or not low <= value <= high:
            kind = "an integer" if integer else "a number"
            raise RequestError(f"{name} must be {kind}{_range_text(low, high)}, not {value!r}", param=name)

    choices = body.get("n")
    if choices is not None and choices != 1:
        raise RequestError(f"n={choices!r} is not supported: this server returns one choice; leave n unset or send 1",
                           param="n")
    for name in _UNSUPPORTED:
        if body.get(name) not in (None, [], False, "none"):
            raise RequestError(f"{name} is not supported by hybrid's server; send the request without it", param=name)
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise RequestError("response_format is not supported by hybrid's server, which returns plain text; "
                           "leave it unset or send {\"type\": \"text\"}", param="response_format")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list) and all(isinstance(item, str) for item in stop)):
        raise RequestError(f"stop must be a string or a list of strings, not {stop!r}", param="stop")


def _range_text(low: float, high: float) -> str:
    if math.isfinite(low) and math.isfinite(high):
        return f" from {low:g} to {high:g}"
    if math.isfinite(low):
        return f" of at least {low:g}"
    return ""


def error_body(message: str, error_type: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def usage_of(record: DecisionRecord | None) -> dict[str, int]:
    """Token usage of the call that wrote the final answer; 0 where the provider sent no usage.

    Judge and rejected calls are left out because they are billed to other
    models; their cost is in the `hybrid` field.
    """
    stage = _final_stage(record)
    prompt = (stage.prompt_tokens if stage else None) or 0
    completion = (stage.completion_tokens if stage else None) or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def metadata(record: DecisionRecord | None) -> dict[str, Any] | None:
    """Return the decision record for the `hybrid` response field, without prompt and answer text."""
    if record is None:
        return None
    return record.model_dump(mode="json", exclude=_PRIVATE_FIELDS)


def completion_body(completion_id: str, model: str, text: str, record: DecisionRecord) -> dict[str, Any]:
    """Build a `chat.completion` object with the record in the extra `hybrid` field."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                     "finish_reason": "stop"}],
        "usage": usage_of(record),
        "system_fingerprint": None,
        "hybrid": metadata(record),
    }


def chunk_body(completion_id: str, created: int, model: str, *, delta: dict[str, Any] | None = None,
               finish_reason: str | None = None, usage: dict[str, int] | None = None,
               record: DecisionRecord | None = None, with_choice: bool = True) -> dict[str, Any]:
    """Build one `chat.completion.chunk` object."""
    body: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                            "model": model, "system_fingerprint": None, "choices": []}
    if with_choice:
        body["choices"] = [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}]
    if usage is not None:
        body["usage"] = usage
    if record is not None:
        body["hybrid"] = metadata(record)
    return body


def _final_stage(record: DecisionRecord | None) -> Any:
    if record is None or record.final_model is None:
        return None
    for stage in reversed(record.stages):
        if stage.stage is not Stage.JUDGE and stage.error is None and stage.model == record.final_model:
            return stage
    return None
