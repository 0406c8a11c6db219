"""Loopback OpenAI-compatible HTTP server that drives the real HTTP clients in tests.

FakeProvider serves the chat completions, embeddings and models routes on
127.0.0.1, so LiteLLM, the groq and openai SDKs and `requests` run their real
HTTP code. Tests script replies and faults per route and model, then read back
every request the server received.

Token counts are whitespace-separated words, so a test can compute them with
`len(text.split())`:

- prompt_tokens: the words of all request messages together. A message with
  list content counts the "text" of its text parts.
- completion_tokens: the words of the reply text.
- total_tokens: prompt_tokens + completion_tokens.

Embeddings usage sets prompt_tokens and total_tokens to the words of all inputs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import logging
import math
import random
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Union
from urllib.parse import urlsplit

__all__ = [
    "CHAT_PATHS",
    "EMBEDDINGS_PATH",
    "GROQ_CHAT_PATH",
    "MODELS_PATH",
    "OPENAI_CHAT_PATH",
    "FakeProvider",
    "Fault",
    "RecordedRequest",
]

OPENAI_CHAT_PATH = "/v1/chat/completions"
GROQ_CHAT_PATH = "/openai/v1/chat/completions"
CHAT_PATHS = (OPENAI_CHAT_PATH, GROQ_CHAT_PATH)
EMBEDDINGS_PATH = "/v1/embeddings"
MODELS_PATH = "/v1/models"

# The HTTP method that each known path accepts.
ROUTES: dict[str, str] = {
    OPENAI_CHAT_PATH: "POST",
    GROQ_CHAT_PATH: "POST",
    EMBEDDINGS_PATH: "POST",
    MODELS_PATH: "GET",
}

MALFORMED_BODY = '{"choices": ['
SYSTEM_FINGERPRINT = "fp_fakeprovider"
STREAM_CONTENT_PIECES = 3

# serve_forever() checks for shutdown this often, so close() returns within this time.
SHUTDOWN_POLL_INTERVAL_S = 0.02

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
Responder = Callable[[JsonObject], Union[JsonObject, "Fault"]]


def _error_body(message: str, error_type: str, code: str | None) -> JsonObject:
    return {"error": {"message": message, "type": error_type, "code": code}}


@dataclass(frozen=True)
class Fault:
    """A scripted failure, or a slow or broken version of the normal reply.

    The server first waits `delay_s` seconds. Then the first set flag decides:
    `drop` closes the connection without a response, `malformed` sends status 200
    with the truncated JSON `{"choices": [`, and `truncate_stream` sends the first
    half of the response and closes the connection. A streamed response then ends
    without `data: [DONE]` and without the final chunk of the chunked encoding,
    and a plain JSON response ends short of its Content-Length.

    Without a flag, the server sends `status`, `headers` and `body`: a dict as
    JSON, a str as plain text, and None as an OpenAI-style error for the status.
    A status-200 fault without a body sends the normal reply, so
    `Fault(status=200, delay_s=2)` is a slow success. A status-200 dict body on a
    chat path gets the id, object, created, model, usage, service_tier and
    system_fingerprint fields it lacks from the request, like a normal reply. It
    is streamed when the request has `"stream": true`.
    """

    status: int = 500
    body: JsonObject | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    malformed: bool = False
    drop: bool = False
    truncate_stream: bool = False

    @classmethod
    def rate_limited(
        cls,
        retry_after: str | None = None,
        message: str = "Rate limit reached for requests. Please try again later.",
    ) -> Fault:
        """Build a 429 rate-limit error, with a Retry-After header when `retry_after` is set."""
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        body = _error_body(message, "requests", "rate_limit_exceeded")
        return cls(status=429, body=body, headers=headers)

    @classmethod
    def decommissioned(cls, model: str) -> Fault:
        """Build the 400 error that Groq sends for a retired model."""
        message = (
            f"The model `{model}` has been decommissioned and is no longer supported. "
            "Please refer to Groq's deprecations page for a recommendation on which model to use instead."
        )
        return cls(status=400, body=_error_body(message, "invalid_request_error", "model_decommissioned"))

    @classmethod
    def unauthorized(cls) -> Fault:
        """Build a 401 invalid API key error."""
        return cls(status=401, body=_error_body("Invalid API Key", "invalid_request_error", "invalid_api_key"))

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """Build a 5xx error with an OpenAI-style body."""
        message = f"The server had an error while processing your request (HTTP {status})."
        return cls(status=status, body=_error_body(message, "server_error", None))

    @classmethod
    def quota(cls) -> Fault:
        """Build the 429 error that OpenAI sends when the account has no quota left."""
        message = "You exceeded your current quota, please check your plan and billing details."
        return cls(status=429, body=_error_body(message, "insufficient_quota", "insufficient_quota"))

    @classmethod
    def empty_choices(cls) -> Fault:
        """Build a status-200 chat completion with `choices: []`."""
        return cls(status=200, body={"choices": []})

    @classmethod
    def empty_content(cls) -> Fault:
        """Build a status-200 chat completion whose message content is ""."""
        choice = {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}
        return cls(status=200, body={"choices": [choice]})


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the server received it.

    `path` has no query string, `headers` has lower-case names, and `body` is
    the parsed JSON object, or None when the body was empty or not a JSON object.
    `received_at` is a time.time() timestamp.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: JsonObject | None
    received_at: float


@dataclass
class _Rule:
    """A scripted behaviour: exactly one of reply_text, responder and fault is set."""

    paths: tuple[str, ...]
    model: str | None
    reply_text: str | None = None
    reply_usage: dict[str, int] | None = None
    responder: Responder | None = None
    fault: Fault | None = None
    remaining: int | None = None

    def matches(self, path: str, model: object) -> bool:
        return path in self.paths and (self.model is None or self.model == model)


def _message_text(content: object) -> str:
    if isinstance(content, str):
        return content

    if isinstance(content, list):
        texts = [part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"]
        return " ".join(text for text in texts if isinstance(text, str))

    return ""


def _request_messages(request: JsonObject) -> list[JsonObject]:
    messages = request.get("messages")
    if not isinstance(messages, list):
        return []

    return [message for message in messages if isinstance(message, dict)]


def _last_user_text(request: JsonObject) -> str:
    for message in reversed(_request_messages(request)):
        if message.get("role") == "user":
            return _message_text(message.get("content"))

    return ""


def _chat_usage(request: JsonObject, reply_text: str) -> dict[str, int]:
    messages = _request_messages(request)
    prompt_tokens = sum(len(_message_text(message.get("content")).split()) for message in messages)
    completion_tokens = len(reply_text.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _reply_content(body: JsonObject) -> str:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""

    message = choices[0].get("message")
    if not isinstance(message, dict):
        return ""

    content = message.get("content")
    return content if isinstance(content, str) else ""


def _fill_chat_fields(body: JsonObject, request: JsonObject) -> JsonObject:
    """Return a copy of `body` with the chat completion fields it lacks taken from the request."""
    filled = dict(body)
    filled.setdefault("id", f"chatcmpl-{uuid.uuid4().hex}")
    filled.setdefault("object", "chat.completion")
    filled.setdefault("created", int(time.time()))
    filled.setdefault("model", request.get("model", ""))
    filled.setdefault("choices", [])
    filled.setdefault("usage", _chat_usage(request, _reply_content(filled)))
    filled.setdefault("service_tier", "on_demand")
    filled.setdefault("system_fingerprint", SYSTEM_FINGERPRINT)
    return filled


def verdict_text(verdict: str, reason: str, nonce: str) -> str:
    """The judge output hybrid expects: one JSON object that repeats the nonce of the answer tags."""
    return json.dumps({"verdict": verdict, "reason": reason, "nonce": nonce})


def answer_nonce(request: JsonObject) -> str:
    """Return the nonce of the `<answer-NONCE>` tag in a judge request, or "" when there is none."""
    for message in _request_messages(request):
        match = re.search(r"<answer-([0-9a-f]+)>", _message_text(message.get("content")))
        if match:
            return match.group(1)
    return ""


def _chat_completion(request: JsonObject, text: str, usage: dict[str, int] | None) -> JsonObject:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    body: JsonObject = {"choices": [choice]}
    if usage is not None:
        body["usage"] = dict(usage)

    return _fill_chat_fields(body, request)


def _split_text(text: str, pieces: int) -> list[str]:
    if not text:
        return []

    size = math.ceil(len(text) / pieces)
    return [text[start : start + size] for start in range(0, len(text), size)]


def _stream_chunks(body: JsonObject) -> list[JsonObject]:
    """Split a chat completion into `chat.completion.chunk` objects.

    The chunks are a role delta, the content in up to three pieces, and a final
    chunk with finish_reason and usage. A body without choices becomes a single
    chunk with `choices: []` and the usage.

    NOTE: only the role and the content are streamed, so tool_calls and other
    message fields of a respond() body are lost in a streamed reply.
    """
    header = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": body.get("model"),
        "system_fingerprint": body.get("system_fingerprint"),
    }

    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return [{**header, "choices": [], "usage": body.get("usage")}]

    def make_chunk(delta: JsonObject, finish_reason: str | None) -> JsonObject:
        return {**header, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    chunks = [make_chunk({"role": "assistant", "content": ""}, None)]
    for piece in _split_text(_reply_content(body), STREAM_CONTENT_PIECES):
        chunks.append(make_chunk({"content": piece}, None))

    final = make_chunk({}, choices[0].get("finish_reason", "stop"))
    final["usage"] = body.get("usage")
    chunks.append(final)
    return chunks


def _embedding_inputs(request: JsonObject) -> list[str] | None:
    texts = request.get("input")
    if isinstance(texts, str):
        return [texts]

    if isinstance(texts, list) and all(isinstance(text, str) for text in texts):
        return texts

    return None


class _Server(ThreadingHTTPServer):
    """The HTTP server, with a link back to the FakeProvider that owns it."""

    daemon_threads = True
    request_queue_size = 1024  # bursts of hundreds of concurrent clients must not be refused

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS lookup that can stall offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or was cut off by close() is expected in tests, so log it at debug level.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            logger.debug("FakeProvider connection from %s ended early: %r", client_address, error)
            return

        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Serve one HTTP connection, using the routes and scripted rules of the owning FakeProvider."""

    protocol_version = "HTTP/1.1"

    # Without TCP_NODELAY, Nagle's algorithm waits for the client's delayed ACK, which is up to 40 ms on Linux.
    disable_nagle_algorithm = True

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.provider._connection_opened(self.connection)

    def finish(self) -> None:
        self.server.provider._connection_closed(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        provider = self.server.provider
        path = urlsplit(self.path).path
        raw_body = self._read_body()
        request = self._parse_json_object(raw_body)
        provider._record(RecordedRequest(self.command, path, self._lower_case_headers(), request, time.time()))

        if path not in ROUTES:
            message = f"Unknown request URL: {self.command} {path}. Please check the URL for typos."
            self._send_json(404, _error_body(message, "invalid_request_error", "unknown_url"))
            return

        if self.command != ROUTES[path]:
            message = f"Method {self.command} is not allowed on {path}. Use {ROUTES[path]}."
            self._send_json(405, _error_body(message, "invalid_request_error", "method_not_allowed"))
            return

        if self.command == "POST" and request is None:
            message = "The request body must be a JSON object."
            self._send_json(400, _error_body(message, "invalid_request_error", "invalid_json"))
            return

        request = request or {}
        fault, source = provider._take_rule(path, request)
        if fault is None:
            self._send_normal(path, request, source, truncate=False, headers={})
        else:
            self._send_fault(fault, path, request, source)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()

        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        """Decode a request body sent with chunked transfer encoding, as `requests` does for a generator."""
        parts = []
        while True:
            size_line = self.rfile.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break

            parts.append(self.rfile.read(size))
            self.rfile.readline()

        # Skip the optional trailer fields up to the blank line that ends the body.
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass

        return b"".join(parts)

    @staticmethod
    def _parse_json_object(raw_body: bytes) -> JsonObject | None:
        try:
            parsed = json.loads(raw_body)
        except ValueError:
            return None

        return parsed if isinstance(parsed, dict) else None

    def _lower_case_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _send_fault(self, fault: Fault, path: str, request: JsonObject, source: _Rule | None) -> None:
        provider = self.server.provider
        if fault.delay_s > 0 and provider._wait_unless_closed(fault.delay_s):
            self.close_connection = True
            return

        if fault.drop:
            self.close_connection = True
            return

        streaming = path in CHAT_PATHS and request.get("stream") is True
        if fault.malformed:
            self._send_malformed(streaming, fault.headers)
            return

        if fault.body is None and (fault.status == 200 or fault.truncate_stream):
            self._send_normal(path, request, source, truncate=fault.truncate_stream, headers=fault.headers)
            return

        if isinstance(fault.body, str):
            data = fault.body.encode()
            content_type = "text/plain; charset=utf-8"
            self._send_bytes(fault.status, content_type, data, fault.headers, truncate=fault.truncate_stream)
            return

        body = fault.body
        if body is None:
            body = _error_body(f"Injected fault: HTTP {fault.status}.", "server_error", None)

        if fault.status == 200 and path in CHAT_PATHS:
            body = _fill_chat_fields(body, request)

        if fault.status == 200 and streaming:
            self._send_stream(body, fault.headers, truncate=fault.truncate_stream)
        else:
            self._send_json(fault.status, body, fault.headers, truncate=fault.truncate_stream)

    def _send_normal(
        self, path: str, request: JsonObject, source: _Rule | None, *, truncate: bool, headers: dict[str, str]
    ) -> None:
        body = self.server.provider._build_body(path, request, source)
        if isinstance(body, Fault):
            # The responder returned a fault. Its source is None, so this recursion ends at the default body.
            self._send_fault(body, path, request, None)
            return

        if path in CHAT_PATHS and request.get("stream") is True:
            self._send_stream(body, headers, truncate=truncate)
        else:
            self._send_json(200, body, headers, truncate=truncate)

    def _send_json(
        self, status: int, body: JsonObject, headers: dict[str, str] | None = None, *, truncate: bool = False
    ) -> None:
        data = json.dumps(body).encode()
        self._send_bytes(status, "application/json", data, headers or {}, truncate=truncate)

    def _send_bytes(
        self, status: int, content_type: str, data: bytes, headers: dict[str, str], *, truncate: bool
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return

        self.wfile.write(data)

    def _send_malformed(self, streaming: bool, headers: dict[str, str]) -> None:
        if not streaming:
            self._send_bytes(200, "application/json", MALFORMED_BODY.encode(), headers, truncate=False)
            return

        self._start_event_stream(headers)
        self._write_event(MALFORMED_BODY)
        self._write_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _send_stream(self, body: JsonObject, headers: dict[str, str], *, truncate: bool) -> None:
        chunks = _stream_chunks(body)
        if truncate:
            chunks = chunks[: max(1, len(chunks) // 2)]

        self._start_event_stream(headers)
        for chunk in chunks:
            self._write_event(json.dumps(chunk))

        if truncate:
            # Closing without the zero-length chunk makes the client see an incomplete body.
            self.close_connection = True
            return

        self._write_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _start_event_stream(self, headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_event(self, data: str) -> None:
        event = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(event):X}\r\n".encode() + event + b"\r\n")


class FakeProvider:
    """OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies and faults.

    The constructor binds an ephemeral port and starts serving in a daemon
    thread. Use it as a context manager or call close(). Routes:

    - POST /v1/chat/completions (OpenAI) and POST /openai/v1/chat/completions
      (Groq): a chat completion, or an event stream when the body has
      `"stream": true`. The default reply is "echo: " plus the text of the last
      user message.
    - POST /v1/embeddings: one embedding_for() vector per input string.
    - GET /v1/models: the `models` list.
    - Any other path: 404 with error code "unknown_url".

    A known path with the wrong method gets 405, and a POST body that is not a
    JSON object gets 400. Every request is recorded first, even a rejected one.

    reply(), respond() and fault() add rules for one path or, with path=None,
    for both chat paths, and optionally for one request model. The newest
    matching rule wins. When it is a pass-through fault (status 200 without a
    body, or truncate_stream), the body comes from the newest matching reply or
    respond rule, or the default.
    """

    def __init__(self, *, embedding_dim: int = 1536, models: Sequence[str] = ("fake-model",)) -> None:
        self.embedding_dim = embedding_dim
        self.models = list(models)

        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._closed = threading.Event()

        self._server = _Server(self)
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"

        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_INTERVAL_S},
            name=f"FakeProvider:{port}",
            daemon=True,
        )
        self._thread.start()

    def __enter__(self) -> FakeProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and cut open connections, including ones waiting in a fault delay."""
        if self._closed.is_set():
            return

        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # The client or the handler closed it first.

        self._thread.join()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """Return the recorded requests whose path ends with `path_suffix`, oldest first."""
        return [request for request in self.requests if request.path.endswith(path_suffix)]

    def verdict(self, verdict: str, reason: str = "correct", *, model: str | None = None, path: str | None = None) -> None:
        """Answer judge requests with `verdict_text`, echoing each request's own nonce."""
        self.respond(lambda request: _chat_completion(request, verdict_text(verdict, reason, answer_nonce(request)), None),
                     model=model, path=path)

    def reply(
        self,
        text: str,
        *,
        model: str | None = None,
        path: str | None = None,
        usage: dict[str, int] | None = None,
    ) -> None:
        """Reply to chat requests with `text`, and with `usage` in place of the word-count usage when given."""
        if path is not None and path not in CHAT_PATHS:
            message = f"reply() works only on chat paths {CHAT_PATHS}, not {path!r}. Use respond() instead."
            raise ValueError(message)

        self._add_rule(_Rule(self._rule_paths(path), model, reply_text=text, reply_usage=usage))

    def respond(self, fn: Responder, *, model: str | None = None, path: str | None = None) -> None:
        """Build the response body with `fn(request_json)`, which returns a dict or a Fault.

        GET requests pass an empty dict. An exception in `fn` becomes a 500 error naming it.
        """
        self._add_rule(_Rule(self._rule_paths(path), model, responder=fn))

    def fault(
        self, fault: Fault, *, model: str | None = None, path: str | None = None, times: int | None = None
    ) -> None:
        """Inject `fault`, for the next `times` matching requests only when `times` is given."""
        if times is not None and times < 1:
            raise ValueError(f"times must be None or at least 1, got {times}.")

        self._add_rule(_Rule(self._rule_paths(path), model, fault=fault, remaining=times))

    def reset(self) -> None:
        """Remove all rules and recorded requests."""
        with self._lock:
            self._rules.clear()
            self._requests.clear()

    @staticmethod
    def embedding_for(text: str, dim: int) -> list[float]:
        """Compute the unit-length embedding that the server returns for `text`.

        The vector is `dim` Gaussian values from random.Random seeded with the
        SHA-256 of the UTF-8 text, divided by their Euclidean norm. A request
        with `"encoding_format": "base64"` gets these values as little-endian
        float32, so compare them with a tolerance of about 1e-6.
        """
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")
        generator = random.Random(seed)
        values = [generator.gauss(0.0, 1.0) for _ in range(dim)]

        norm = math.sqrt(sum(value * value for value in values))
        return [value / norm for value in values]

    @staticmethod
    def _rule_paths(path: str | None) -> tuple[str, ...]:
        if path is None:
            return CHAT_PATHS

        if path not in ROUTES:
            raise ValueError(f"Unknown path {path!r}. Use one of {sorted(ROUTES)}, or None for both chat paths.")

        return (path,)

    def _add_rule(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _wait_unless_closed(self, seconds: float) -> bool:
        """Sleep `seconds` and return True if close() ended the wait early."""
        return self._closed.wait(seconds)

    def _take_rule(self, path: str, request: JsonObject) -> tuple[Fault | None, _Rule | None]:
        """Pick the fault to apply and the rule that builds the body, and count one use of a limited fault."""
        model = request.get("model")
        with self._lock:
            matching = [rule for rule in reversed(self._rules) if rule.matches(path, model)]
            if not matching:
                return None, None

            newest = matching[0]
            if newest.fault is None:
                return None, newest

            if newest.remaining is not None:
                newest.remaining -= 1
                if newest.remaining == 0:
                    self._rules.remove(newest)

            source = next((rule for rule in matching if rule.fault is None), None)
            return newest.fault, source

    def _build_body(self, path: str, request: JsonObject, source: _Rule | None) -> JsonObject | Fault:
        if source is not None and source.responder is not None:
            try:
                return source.responder(request)
            except Exception as error:
                logger.warning("FakeProvider respond() callback failed on %s", path, exc_info=True)
                message = f"respond() callback raised {type(error).__name__}: {error}"
                return Fault(status=500, body=_error_body(message, "server_error", None))

        if source is not None and source.reply_text is not None:
            return _chat_completion(request, source.reply_text, source.reply_usage)

        if path in CHAT_PATHS:
            return _chat_completion(request, "echo: " + _last_user_text(request), None)

        if path == EMBEDDINGS_PATH:
            return self._embedding_list(request)

        return self._model_list()

    def _embedding_list(self, request: JsonObject) -> JsonObject | Fault:
        texts = _embedding_inputs(request)
        if texts is None:
            message = "'input' must be a string or a list of strings."
            return Fault(status=400, body=_error_body(message, "invalid_request_error", "invalid_input"))

        dimensions = request.get("dimensions")
        dim = dimensions if isinstance(dimensions, int) and dimensions > 0 else self.embedding_dim
        base64_output = request.get("encoding_format") == "base64"

        data = []
        for index, text in enumerate(texts):
            vector = self.embedding_for(text, dim)
            embedding: list[float] | str = vector
            if base64_output:
                embedding = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})

        tokens = sum(len(text.split()) for text in texts)
        return {
            "object": "list",
            "data": data,
            "model": request.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _model_list(self) -> JsonObject:
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": "fakeprovider"} for model in self.models
        ]
        return {"object": "list", "data": data}
