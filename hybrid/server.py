"""`hybrid serve`: an OpenAI-compatible HTTP API over a HybridRouter, with FastAPI and uvicorn.

Routes: `POST /v1/chat/completions`, `GET /v1/models` and `GET /health`. The
request's model field selects the mode (see `hybrid.server_openai`). The
answer's `model` is the model that wrote the final answer. The decision record,
without prompt and answer text, is in the extra `hybrid` field and, in short
form, in `x-hybrid-*` response headers.

Streaming: a strong-direct answer (strong mode, or a strong route in router or
hybrid mode) streams from the strong model as it is written. Every other
answer is sent only after the judge accepted it or the fallback, cascade or
parallel selection produced it, as chunks of the finished text. A live
stream's headers carry no cost, and its final chunk carries the record.

Errors use OpenAI's shape: 400 for an invalid request, 502 when a model call
failed with no fallback left to try, and 500 for a server misconfiguration or any
other failure, which is logged. Sampling options such as temperature and
max_tokens are checked against OpenAI's ranges and then ignored, since each mode
calls several models. Options whose effect a caller relies on (tools,
response_format other than text, logprobs, n above 1) get a 400.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from hybrid.answer_stream import StreamHeader
from hybrid.errors import (
    ConfigurationError,
    HybridError,
    InputError,
    JudgeError,
    ModelNotFoundError,
    ProviderError,
    ReplayMissError,
)
from hybrid.pipeline import HybridRouter
from hybrid.record import DecisionRecord, Mode
from hybrid.server_openai import (
    ChatRequest,
    RequestError,
    chunk_body,
    completion_body,
    error_body,
    model_ids,
    parse_chat_request,
    usage_of,
)

__all__ = ["create_app", "run_server"]

logger = logging.getLogger("hybrid.server")


def create_app(router: HybridRouter) -> FastAPI:
    """Build the FastAPI application that serves `router`."""
    app = FastAPI(title="hybrid", summary="OpenAI-compatible routing between a weak and a strong model")
    router_name = router.predictor.name
    default_threshold = router.settings.threshold
    if default_threshold is None:
        default_threshold = router.predictor.default_threshold

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return JSONResponse(error_body(str(error.detail), "invalid_request_error", code=str(error.status_code)),
                            status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        return JSONResponse(error_body(f"invalid request: {error.errors()}", "invalid_request_error"), status_code=400)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error_response(error)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        ids = model_ids(router_name, default_threshold, parallel=router.parallel is not None)
        return {"object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "hybrid"} for name in ids]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse(error_body("the request body is not valid JSON", "invalid_request_error"),
                                status_code=400)

        try:
            chat = parse_chat_request(body, router_name)
        except RequestError as error:
            return JSONResponse(error_body(str(error), "invalid_request_error", param=error.param, code=error.code),
                                status_code=400)

        if chat.mode is Mode.PARALLEL and router.parallel is None:
            message = ("model 'parallel' is not served here: this server has no parallel candidates; "
                       "set HYBRID_PARALLEL_MODELS, or serve a RouterBench recording with --replay")
            return JSONResponse(error_body(message, "invalid_request_error", param="model", code="model_not_found"),
                                status_code=400)

        try:
            if chat.stream:
                return await _stream(router, chat)
            answer = await router.aask(chat.messages, mode=chat.mode.value, threshold=chat.threshold)
        except Exception as error:
            return _error_response(error)

        record = answer.record
        body = completion_body(f"chatcmpl-{record.request_id}", answer.model, answer.text, record)
        return JSONResponse(body, headers=_record_headers(record))

    return app


def run_server(router: HybridRouter, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve `router` with uvicorn until interrupted."""
    import uvicorn

    logger.info("serving hybrid on http://%s:%d", host, port)
    uvicorn.run(create_app(router), host=host, port=port, log_level="info")
    logger.info("hybrid server on %s:%d stopped", host, port)


async def _stream(router: HybridRouter, chat: ChatRequest) -> StreamingResponse:
    """Start the answer stream; errors before its first piece raise, so they get a JSON error response."""
    stream = await router.astream(chat.messages, mode=chat.mode.value, threshold=chat.threshold)
    await stream.start()

    header = stream.header
    completion_id = f"chatcmpl-{header.request_id}"
    created = int(time.time())

    async def events() -> AsyncIterator[str]:
        yield _event(chunk_body(completion_id, created, header.model, delta={"role": "assistant", "content": ""}))
        try:
            async for piece in stream:
                yield _event(chunk_body(completion_id, created, header.model, delta={"content": piece}))
        except Exception as error:
            logger.error("stream %s failed after it started: %s", header.request_id, error)
            yield _event(_error_payload(error)[1])
            return

        record = stream.record
        yield _event(chunk_body(completion_id, created, header.model, finish_reason="stop", record=record))
        if chat.include_usage:
            yield _event(chunk_body(completion_id, created, header.model, usage=usage_of(record), with_choice=False))
        yield "data: [DONE]\n\n"

    headers = _record_headers(stream.record) if stream.record is not None else _live_headers(stream.header)
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _error_response(error: BaseException) -> JSONResponse:
    status, payload = _error_payload(error)
    return JSONResponse(payload, status_code=status)


def _error_payload(error: BaseException) -> tuple[int, dict[str, Any]]:
    """Map an exception to an HTTP status and an OpenAI-style error body."""
    if isinstance(error, InputError):
        return 400, error_body(str(error), "invalid_request_error", param="messages")
    if isinstance(error, ReplayMissError):
        return 400, error_body(str(error), "invalid_request_error", param="messages", code="replay_miss")
    if isinstance(error, (ProviderError, ModelNotFoundError, JudgeError)):
        message = f"the model call failed, and no fallback was left to try: {error}"
        logger.warning("returned 502: %s", error)
        return 502, error_body(message, "provider_error", code=type(error).__name__)
    if isinstance(error, ConfigurationError):
        logger.error("server configuration error: %s", error)
        return 500, error_body(f"the server is misconfigured: {error}", "server_error", code="configuration_error")
    if isinstance(error, HybridError):
        logger.error("request failed: %s", error)
        return 500, error_body(str(error), "server_error", code=type(error).__name__)
    logger.error("unexpected %s: %s", type(error).__name__, error, exc_info=error)
    return 500, error_body(f"internal error ({type(error).__name__}); see the server log", "server_error",
                           code="internal_error")


def _record_headers(record: DecisionRecord) -> dict[str, str]:
    return {
        "x-hybrid-request-id": record.request_id,
        "x-hybrid-mode": record.mode.value,
        "x-hybrid-model": record.final_model or "none",
        "x-hybrid-route": record.route.value if record.route else "none",
        "x-hybrid-win-rate": _number(record.win_rate),
        "x-hybrid-verdict": record.verdict.value if record.verdict else "none",
        "x-hybrid-fallback": "true" if record.fallback else "false",
        "x-hybrid-fallback-reason": record.fallback_reason.value if record.fallback_reason else "none",
        "x-hybrid-cost-usd": _number(record.total_cost_usd),
    }


def _live_headers(header: StreamHeader) -> dict[str, str]:
    return {
        "x-hybrid-request-id": header.request_id,
        "x-hybrid-mode": header.mode.value,
        "x-hybrid-model": header.model,
        "x-hybrid-route": header.route.value if header.route else "none",
        "x-hybrid-win-rate": _number(header.win_rate),
        "x-hybrid-verdict": "none",
        "x-hybrid-fallback": "false",
        "x-hybrid-fallback-reason": "none",
    }


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"
