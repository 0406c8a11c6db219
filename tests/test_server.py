"""`hybrid serve` on a real uvicorn socket, called with the official openai client.

Behind the server, the live LiteLLM, requests and groq clients talk to a
loopback FakeProvider. Thresholds force the route: 0.0 sends every prompt to
the strong model and 1.0 every prompt to the weak one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
import pytest
import requests
import uvicorn

from fakeprovider import Fault, FakeProvider
from hybrid import HybridRouter
from hybrid.backends import JudgeReply, Message
from hybrid.decision_log import read_records
from hybrid.server import create_app
from hybrid.settings import load_settings

OPENAI_KEY = "sk-test-openai-server"
GROQ_KEY = "gsk-test-groq-server"
GROQ_PATH = "/openai/v1/chat/completions"
OPENAI_PATH = "/v1/chat/completions"
WEAK = "groq/openai/gpt-oss-20b"
WEAK_WIRE = "openai/gpt-oss-20b"
JUDGE_MODEL = "openai/gpt-oss-120b"
QUESTION = "What is the capital of France?"
LONG_ANSWER = "Paris é a capital da França, e é a sede do seu governo há séculos; São Paulo é maior. " * 2
ROUTERBENCH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "routerbench-0shot"


def make_router(provider: FakeProvider, tmp_path: Path, predictor: object, **overrides: object) -> HybridRouter:
    options: dict[str, object] = {
        "openai_base_url": provider.url + "/v1",
        "openai_api_key": OPENAI_KEY,
        "groq_base_url": provider.url,
        "groq_api_key": GROQ_KEY,
        "log_path": tmp_path / "decisions.jsonl",
        "strong_retries": 0,
        "cascade_tiers": [WEAK, "gpt-4o"],
        "parallel_models": [WEAK, "gpt-4o"],
    }
    options.update(overrides)
    return HybridRouter.from_settings(load_settings(**options), predictor=predictor)


@contextmanager
def serving(app: object) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a background thread; yield its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture
def served(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> Iterator[tuple[str, openai.OpenAI]]:
    with serving(create_app(make_router(fake_provider, tmp_path, shipped_predictor))) as url:
        yield url, openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30)


def calls(provider: FakeProvider, path: str) -> list[object]:
    return [request for request in provider.requests if request.path == path]


def test_health_and_models(served: tuple[str, openai.OpenAI], shipped_predictor: object) -> None:
    url, client = served

    health = requests.get(url + "/health", timeout=10)
    models = client.models.list()

    assert health.json() == {"status": "ok"}
    threshold = f"{shipped_predictor.default_threshold:g}"
    assert [model.id for model in models.data] == [f"router-mf-{threshold}", f"hybrid-mf-{threshold}", "cascade",
                                                   "parallel", "strong", "weak"]
    assert all(model.object == "model" for model in models.data)


def test_hybrid_completion_parsed(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider,
                                  tmp_path: Path) -> None:
    _, client = served
    fake_provider.reply("Paris.", model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)

    raw = client.chat.completions.with_raw_response.create(
        model="hybrid-mf-1.0", messages=[{"role": "user", "content": QUESTION}])
    completion = raw.parse()

    (record,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert completion.model == WEAK
    assert completion.object == "chat.completion"
    assert isinstance(completion.created, int)
    assert completion.id == f"chatcmpl-{record.request_id}"
    (choice,) = completion.choices
    assert (choice.index, choice.message.role, choice.message.content, choice.finish_reason) == (
        0, "assistant", "Paris.", "stop")
    assert completion.usage.prompt_tokens == len(QUESTION.split())
    assert completion.usage.completion_tokens == 1
    assert completion.usage.total_tokens == len(QUESTION.split()) + 1

    metadata = completion.model_extra["hybrid"]
    assert metadata["request_id"] == record.request_id
    assert metadata["route"] == "weak"
    assert metadata["verdict"] == "accept"
    assert "prompt" not in metadata
    assert "answer" not in metadata

    headers = raw.headers
    assert headers["x-hybrid-request-id"] == record.request_id
    assert headers["x-hybrid-mode"] == "hybrid"
    assert headers["x-hybrid-route"] == "weak"
    assert float(headers["x-hybrid-win-rate"]) == pytest.approx(record.win_rate, rel=1e-5)
    assert headers["x-hybrid-verdict"] == "accept"
    assert headers["x-hybrid-fallback"] == "false"
    assert float(headers["x-hybrid-cost-usd"]) == pytest.approx(record.total_cost_usd, rel=1e-5)


def test_strong_route_streams_live(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider,
                                   tmp_path: Path) -> None:
    _, client = served
    fake_provider.reply(LONG_ANSWER, model="gpt-4o", path=OPENAI_PATH)

    raw = client.chat.completions.with_raw_response.create(
        model="router-mf-0.0", messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(raw.parse())

    (provider_request,) = calls(fake_provider, OPENAI_PATH)
    assert provider_request.body["stream"] is True
    assert raw.headers["x-hybrid-route"] == "strong"
    assert "x-hybrid-cost-usd" not in raw.headers
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk.model == "gpt-4o" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == LONG_ANSWER
    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    # FakeProvider streams a reply in three pieces of equal length, and the server passes each on as it arrives.
    size = -(-len(LONG_ANSWER) // 3)
    assert pieces == [LONG_ANSWER[start:start + size] for start in range(0, len(LONG_ANSWER), size)]
    finish = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert [chunk.choices[0].finish_reason for chunk in finish] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(LONG_ANSWER.split())

    (record,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert record.answer == LONG_ANSWER
    assert record.stages[0].completion_tokens == len(LONG_ANSWER.split())
    assert finish[0].model_extra["hybrid"]["request_id"] == record.request_id
    assert finish[0].model_extra["hybrid"]["total_cost_usd"] == pytest.approx(record.total_cost_usd)


def test_verified_answer_streams_after_verdict(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider) -> None:
    _, client = served
    fake_provider.reply(LONG_ANSWER, model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)

    raw = client.chat.completions.with_raw_response.create(
        model="hybrid-mf-1.0", messages=[{"role": "user", "content": QUESTION}], stream=True)
    chunks = list(raw.parse())

    assert raw.headers["x-hybrid-verdict"] == "accept"
    assert float(raw.headers["x-hybrid-cost-usd"]) > 0
    assert all(request.body.get("stream") is not True for request in fake_provider.requests)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == LONG_ANSWER
    assert len([chunk for chunk in chunks if chunk.choices[0].delta.content]) > 1
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.model == WEAK for chunk in chunks)


@pytest.mark.parametrize("model", ["cascade", "parallel", "strong", "weak"])
def test_plain_modes_answer(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider, model: str) -> None:
    _, client = served
    fake_provider.reply("Paris.", model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.reply("Paris, France.", model="gpt-4o", path=OPENAI_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)

    raw = client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": QUESTION}])
    completion = raw.parse()

    assert raw.headers["x-hybrid-mode"] == model
    assert completion.model_extra["hybrid"]["mode"] == model
    expected_model = {"cascade": WEAK, "strong": "gpt-4o", "weak": WEAK}.get(model)
    if expected_model is not None:
        assert completion.model == expected_model
    else:
        # The judge's accept reply names no candidate, so the strongest candidate is returned.
        assert completion.model == "gpt-4o"
        assert raw.headers["x-hybrid-fallback"] == "true"


@pytest.mark.parametrize("model, messages, param, fragment", [
    ("strong", [], "messages", "non-empty list"),
    ("strong", [{"role": "user", "content": "   "}], "messages", "blank content"),
    ("strong", [{"role": "assistant", "content": "hi"}], "messages", "no user message"),
    ("gpt-5", [{"role": "user", "content": "hi"}], "model", "'gpt-5' is unknown"),
    ("hybrid-mf-1.5", [{"role": "user", "content": "hi"}], "model", "'1.5'"),
    ("router-mf--0.2", [{"role": "user", "content": "hi"}], "model", "'-0.2'"),
    ("router-mf-abc", [{"role": "user", "content": "hi"}], "model", "not a number"),
    ("router-bert-0.5", [{"role": "user", "content": "hi"}], "model", "'bert'"),
])
def test_invalid_requests_get_400(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider, model: str,
                                  messages: list[dict], param: str, fragment: str) -> None:
    _, client = served

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=messages)

    error = caught.value.body  # the SDK unwraps the "error" object
    assert caught.value.status_code == 400
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    assert fake_provider.requests == []


@pytest.mark.parametrize("options, param, fragment", [
    ({"max_tokens": -5}, "max_tokens", "an integer of at least 1"),
    ({"max_tokens": 2.5}, "max_tokens", "not 2.5"),
    ({"temperature": "hot"}, "temperature", "a number from 0 to 2"),
    ({"top_p": 1.5}, "top_p", "from 0 to 1"),
    ({"n": 2}, "n", "one choice"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools", "not supported"),
    ({"response_format": {"type": "json_object"}}, "response_format", "plain text"),
    ({"stop": 5}, "stop", "a string or a list of strings"),
])
def test_bad_options_get_400(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider,
                             options: dict[str, object], param: str, fragment: str) -> None:
    _, client = served

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="strong", messages=[{"role": "user", "content": "hi"}], **options)

    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param
    assert fragment in caught.value.body["message"]
    assert fake_provider.requests == []


def test_valid_options_accepted(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider) -> None:
    _, client = served
    fake_provider.reply("Hello.", model="gpt-4o", path=OPENAI_PATH)

    completion = client.chat.completions.create(
        model="strong", messages=[{"role": "user", "content": "hi"}], max_tokens=50, temperature=0.2, top_p=0.9,
        n=1, seed=7, stop=["\n\n"], tool_choice="none", response_format={"type": "text"},
    )

    assert completion.choices[0].message.content == "Hello."
    assert len(completion.choices) == 1


@pytest.mark.parametrize("body, fragment", [({"model": "strong"}, "no messages"), ("{not json", "not valid JSON"),
                                            ([1, 2], "JSON object")])
def test_malformed_bodies_get_400(served: tuple[str, openai.OpenAI], body: object, fragment: str) -> None:
    url, _ = served
    data = body if isinstance(body, str) else json.dumps(body)

    response = requests.post(url + "/v1/chat/completions", data=data, headers={"content-type": "application/json"},
                             timeout=10)

    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"]


def test_provider_failure_gets_502(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider) -> None:
    url, client = served
    fake_provider.fault(Fault.server_error(503), model="gpt-4o", path=OPENAI_PATH)

    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="strong", messages=[{"role": "user", "content": QUESTION}],
                                           stream=stream)

        assert caught.value.status_code == 502
        message = caught.value.body["message"]
        assert "gpt-4o" in message
        assert "503" in message
        assert caught.value.body["type"] == "provider_error"

    assert requests.get(url + "/health", timeout=10).status_code == 200


def test_stream_broken_midway(served: tuple[str, openai.OpenAI], fake_provider: FakeProvider, tmp_path: Path) -> None:
    _, client = served
    fake_provider.reply(LONG_ANSWER, model="gpt-4o", path=OPENAI_PATH)
    fake_provider.fault(Fault(status=200, truncate_stream=True), model="gpt-4o", path=OPENAI_PATH)

    stream = client.chat.completions.create(model="strong", messages=[{"role": "user", "content": QUESTION}],
                                            stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass

    assert "gpt-4o" in str(caught.value)
    (record,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert record.final_model is None
    assert record.stages[0].error is not None


class ExplodingJudge:
    """A judge backend whose call raises an exception that hybrid does not expect."""

    model = "exploding-judge"

    async def judge(self, messages: list[Message], *, timeout: float) -> JudgeReply:
        raise RuntimeError("judge backend bug")


def test_unexpected_error_gets_500(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    router = make_router(fake_provider, tmp_path, shipped_predictor)
    router.judge = ExplodingJudge()
    fake_provider.reply("Paris.", model=WEAK_WIRE, path=GROQ_PATH)

    with serving(create_app(router)) as url:
        response = requests.post(url + "/v1/chat/completions", timeout=10, json={
            "model": "hybrid-mf-1.0", "messages": [{"role": "user", "content": QUESTION}]})
        health = requests.get(url + "/health", timeout=10)

    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    assert "RuntimeError" in response.json()["error"]["message"]
    assert health.status_code == 200


def test_unknown_path_gets_openai_error(served: tuple[str, openai.OpenAI]) -> None:
    url, _ = served

    response = requests.get(url + "/v1/engines", timeout=10)

    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.skipif(not ROUTERBENCH.is_dir(), reason=f"recorded data not found at {ROUTERBENCH}")
def test_cli_serve_replay(tmp_path: Path) -> None:
    import csv
    import ast

    csv.field_size_limit(2**31 - 1)
    with (ROUTERBENCH / "mbpp_test.csv").open(newline="") as handle:
        row = next(csv.DictReader(handle))
    prompt = "\n\n".join(ast.literal_eval(row["prompt"]))

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    env = {**os.environ, "HYBRID_LOG_PATH": str(tmp_path / "served.jsonl"), "HF_HUB_OFFLINE": "1",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    process = subprocess.Popen([sys.executable, "-m", "hybrid.cli", "serve", "--replay", str(ROUTERBENCH),
                                "--port", str(port)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "hybrid serve did not start within 120 s"
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)

        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)
        completion = client.chat.completions.create(model="cascade", messages=[{"role": "user", "content": prompt}])
    finally:
        process.terminate()
        process.wait(30)

    answers = {model: "\n\n".join(ast.literal_eval(row[f"{model}|model_response"]))
               for model in ("mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview")}
    correct = {model: row[model] == "1.0" for model in answers}
    expected = next((model for model in list(answers)[:2] if correct[model]), "gpt-4-1106-preview")
    assert completion.model == expected
    assert completion.choices[0].message.content == answers[expected]
    assert completion.model_extra["hybrid"]["mode"] == "cascade"


def test_parallel_without_candidates_is_400(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    router = make_router(fake_provider, tmp_path, shipped_predictor)
    router.parallel = None  # as a replay of the two-model RouteLLM recording has none

    with serving(create_app(router)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="parallel", messages=[{"role": "user", "content": "hi"}])

    assert caught.value.status_code == 400
    assert "HYBRID_PARALLEL_MODELS" in str(caught.value)
    assert fake_provider.requests == []
