"""Tests that FakeProvider works with the real openai, groq, LiteLLM and requests clients."""

import json
import threading
from collections.abc import Iterator

import groq
import litellm
import openai
import pytest
import requests

from fakeprovider import EMBEDDINGS_PATH, GROQ_CHAT_PATH, MODELS_PATH, OPENAI_CHAT_PATH, FakeProvider, Fault

API_KEY = "test-key"


def openai_client(provider: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=provider.url + "/v1", api_key=API_KEY, max_retries=0)


def groq_client(provider: FakeProvider) -> groq.Groq:
    return groq.Groq(base_url=provider.url, api_key=API_KEY, max_retries=0)


def post_chat(provider: FakeProvider, content: str, **extra: object) -> requests.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": content}], **extra}
    return requests.post(provider.url + OPENAI_CHAT_PATH, json=body, timeout=5)


def test_url_loopback_without_trailing_slash(fake_provider: FakeProvider) -> None:
    assert fake_provider.url.startswith("http://127.0.0.1:")
    assert not fake_provider.url.endswith("/")


def test_openai_sdk_default_echo(fake_provider: FakeProvider) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello there world"},
    ]

    completion = openai_client(fake_provider).chat.completions.create(model="gpt-test", messages=messages)

    assert completion.object == "chat.completion"
    assert completion.model == "gpt-test"
    assert isinstance(completion.created, int)
    assert completion.service_tier == "on_demand"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "echo: hello there world"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == 9


def test_list_content_counts_text_parts(fake_provider: FakeProvider) -> None:
    content = [{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}]

    completion = openai_client(fake_provider).chat.completions.create(
        model="m", messages=[{"role": "user", "content": content}]
    )

    assert completion.choices[0].message.content == "echo: one two three"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3


def test_openai_sdk_embeddings_base64(fake_provider: FakeProvider) -> None:
    texts = ["alpha", "beta gamma"]

    response = openai_client(fake_provider).embeddings.create(model="embed-test", input=texts)

    assert fake_provider.requests_to(EMBEDDINGS_PATH)[0].body["encoding_format"] == "base64"
    assert response.model == "embed-test"
    assert [item.index for item in response.data] == [0, 1]
    for item, text in zip(response.data, texts):
        assert len(item.embedding) == 1536
        assert item.embedding == pytest.approx(FakeProvider.embedding_for(text, 1536), abs=1e-6)
    assert response.usage.prompt_tokens == 3
    assert response.usage.total_tokens == 3


def test_openai_sdk_embeddings_float_exact(fake_provider: FakeProvider) -> None:
    fake_provider.embedding_dim = 8

    response = openai_client(fake_provider).embeddings.create(model="e", input="alpha", encoding_format="float")

    assert response.data[0].embedding == FakeProvider.embedding_for("alpha", 8)


def test_embeddings_dimensions_request(fake_provider: FakeProvider) -> None:
    response = openai_client(fake_provider).embeddings.create(
        model="e", input=["x"], dimensions=16, encoding_format="float"
    )

    assert response.data[0].embedding == FakeProvider.embedding_for("x", 16)


def test_embedding_for_is_unit_and_deterministic() -> None:
    first = FakeProvider.embedding_for("same text", 64)
    second = FakeProvider.embedding_for("same text", 64)
    other = FakeProvider.embedding_for("other text", 64)

    assert first == second
    assert first != other
    assert sum(value * value for value in first) == pytest.approx(1.0)


def test_embeddings_reject_token_input(fake_provider: FakeProvider) -> None:
    response = requests.post(fake_provider.url + EMBEDDINGS_PATH, json={"model": "e", "input": [1, 2]}, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_openai_sdk_stream_joins_to_text(fake_provider: FakeProvider) -> None:
    fake_provider.reply("streamed answer in pieces")

    stream = openai_client(fake_provider).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "go"}], stream=True
    )
    chunks = list(stream)

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "streamed answer in pieces"
    assert len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_stream_ends_with_done(fake_provider: FakeProvider) -> None:
    response = post_chat(fake_provider, "hi", stream=True)
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]

    assert response.headers["Content-Type"] == "text/event-stream"
    assert events[-1] == "data: [DONE]"


def test_truncated_stream_breaks_openai_sdk(fake_provider: FakeProvider) -> None:
    fake_provider.reply("a long enough answer to split")
    fake_provider.fault(Fault(truncate_stream=True), times=1)
    client = openai_client(fake_provider)

    with pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "go"}], stream=True))

    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "go"}], stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream) == "a long enough answer to split"


def test_groq_sdk_scripted_reply(fake_provider: FakeProvider) -> None:
    fake_provider.reply("groq path only", path=GROQ_CHAT_PATH)

    completion = groq_client(fake_provider).chat.completions.create(
        model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "hi"}]
    )

    assert completion.choices[0].message.content == "groq path only"
    assert [request.path for request in fake_provider.requests] == [GROQ_CHAT_PATH]
    assert post_chat(fake_provider, "hi").json()["choices"][0]["message"]["content"] == "echo: hi"


def test_litellm_groq_scripted_reply(fake_provider: FakeProvider) -> None:
    # LiteLLM strips the "groq/" provider prefix before sending the model name.
    fake_provider.reply("weak model answer", model="openai/gpt-oss-20b")

    response = litellm.completion(
        model="groq/openai/gpt-oss-20b",
        api_base=fake_provider.url + "/openai/v1",
        api_key=API_KEY,
        messages=[{"role": "user", "content": "hi"}],
    )

    assert response.choices[0].message.content == "weak model answer"
    assert response.usage.prompt_tokens == 1
    assert response.usage.completion_tokens == 3
    assert fake_provider.requests_to(GROQ_CHAT_PATH)[0].body["model"] == "openai/gpt-oss-20b"


def test_requests_rate_limit_then_success(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault.rate_limited("2"), times=1)

    limited = post_chat(fake_provider, "retry me")
    succeeded = post_chat(fake_provider, "retry me")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert succeeded.status_code == 200
    assert succeeded.json()["choices"][0]["message"]["content"] == "echo: retry me"


def test_groq_decommissioned_raises_bad_request(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault.decommissioned("old-model"), model="old-model")

    with pytest.raises(groq.BadRequestError) as caught:
        groq_client(fake_provider).chat.completions.create(
            model="old-model", messages=[{"role": "user", "content": "hi"}]
        )

    # The groq SDK keeps the whole body, so the code sits under "error".
    error = caught.value.body["error"]
    assert caught.value.status_code == 400
    assert error["code"] == "model_decommissioned"
    assert "`old-model` has been decommissioned" in error["message"]


def test_openai_sdk_quota_and_unauthorized(fake_provider: FakeProvider) -> None:
    client = openai_client(fake_provider)
    messages = [{"role": "user", "content": "hi"}]
    fake_provider.fault(Fault.quota(), times=1)
    fake_provider.fault(Fault.unauthorized(), model="locked")

    with pytest.raises(openai.RateLimitError) as quota:
        client.chat.completions.create(model="m", messages=messages)
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        client.chat.completions.create(model="locked", messages=messages)

    assert quota.value.code == "insufficient_quota"
    assert unauthorized.value.code == "invalid_api_key"


def test_server_error_status(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault.server_error(503))

    response = post_chat(fake_provider, "hi")

    assert response.status_code == 503
    assert response.json()["error"]["type"] == "server_error"


def test_unknown_path_returns_404(fake_provider: FakeProvider) -> None:
    doubled_path = fake_provider.url + "/openai/v1/openai/v1/chat/completions"

    response = requests.post(doubled_path, json={"model": "m", "messages": []}, timeout=5)

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["code"] == "unknown_url"


def test_records_authorization_and_body(fake_provider: FakeProvider) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "recorded"}], "temperature": 0}

    requests.post(
        fake_provider.url + OPENAI_CHAT_PATH,
        json=body,
        headers={"Authorization": "Bearer " + API_KEY},
        timeout=5,
    )

    [recorded] = fake_provider.requests_to("/chat/completions")
    assert recorded.method == "POST"
    assert recorded.path == OPENAI_CHAT_PATH
    assert recorded.headers["authorization"] == "Bearer " + API_KEY
    assert recorded.body == body


def test_chunked_request_body(fake_provider: FakeProvider) -> None:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "in chunks"}]}).encode()

    def body_parts() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    response = requests.post(fake_provider.url + OPENAI_CHAT_PATH, data=body_parts(), timeout=5)

    assert fake_provider.requests[0].headers["transfer-encoding"] == "chunked"
    assert response.json()["choices"][0]["message"]["content"] == "echo: in chunks"


def test_wrong_method_and_invalid_json(fake_provider: FakeProvider) -> None:
    wrong_method = requests.get(fake_provider.url + OPENAI_CHAT_PATH, timeout=5)
    invalid_json = requests.post(fake_provider.url + OPENAI_CHAT_PATH, data=b"[1, 2]", timeout=5)

    assert wrong_method.status_code == 405
    assert invalid_json.status_code == 400
    assert invalid_json.json()["error"]["code"] == "invalid_json"
    assert [request.body for request in fake_provider.requests] == [None, None]


def test_model_rule_and_newest_first(fake_provider: FakeProvider) -> None:
    fake_provider.reply("older")
    fake_provider.reply("newer")
    fake_provider.reply("for special", model="special")

    assert post_chat(fake_provider, "hi").json()["choices"][0]["message"]["content"] == "newer"
    special = requests.post(
        fake_provider.url + OPENAI_CHAT_PATH,
        json={"model": "special", "messages": []},
        timeout=5,
    )
    assert special.json()["choices"][0]["message"]["content"] == "for special"


def test_reply_usage_override(fake_provider: FakeProvider) -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 11, "total_tokens": 18}
    fake_provider.reply("fixed", usage=usage)

    assert post_chat(fake_provider, "hi").json()["usage"] == usage


def test_respond_builds_body_and_fault(fake_provider: FakeProvider) -> None:
    def build(request: dict) -> dict | Fault:
        if request["messages"][0]["content"] == "fail":
            return Fault.server_error(502)
        return {"custom": request["model"]}

    fake_provider.respond(build)

    assert post_chat(fake_provider, "ok").json() == {"custom": "m"}
    assert post_chat(fake_provider, "fail").status_code == 502


def test_respond_exception_becomes_500(fake_provider: FakeProvider) -> None:
    def broken(request: dict) -> dict:
        raise KeyError("missing")

    fake_provider.respond(broken)
    response = post_chat(fake_provider, "hi")

    assert response.status_code == 500
    assert "KeyError" in response.json()["error"]["message"]


def test_models_list(fake_provider: FakeProvider) -> None:
    fake_provider.models = ["alpha-model", "beta-model"]

    models = openai_client(fake_provider).models.list()

    assert [model.id for model in models] == ["alpha-model", "beta-model"]
    assert fake_provider.requests_to(MODELS_PATH)[0].method == "GET"


def test_empty_choices_and_content(fake_provider: FakeProvider) -> None:
    client = openai_client(fake_provider)
    messages = [{"role": "user", "content": "hi"}]
    fake_provider.fault(Fault.empty_content(), times=1)
    fake_provider.fault(Fault.empty_choices(), times=1)

    empty_choices = client.chat.completions.create(model="m", messages=messages)
    empty_content = client.chat.completions.create(model="m", messages=messages)

    assert empty_choices.choices == []
    assert empty_choices.model == "m"
    assert empty_content.choices[0].message.content == ""
    assert empty_content.usage is not None
    assert empty_content.usage.completion_tokens == 0


def test_malformed_body(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault(malformed=True))

    response = post_chat(fake_provider, "hi")

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_drop_closes_without_response(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault(drop=True), times=1)

    with pytest.raises(requests.ConnectionError):
        post_chat(fake_provider, "hi")

    assert post_chat(fake_provider, "hi").status_code == 200


def test_delay_causes_client_timeout(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault(status=200, delay_s=5.0))

    with pytest.raises(requests.Timeout):
        requests.post(fake_provider.url + OPENAI_CHAT_PATH, json={"model": "m", "messages": []}, timeout=0.2)


def test_slow_success_keeps_scripted_reply(fake_provider: FakeProvider) -> None:
    fake_provider.reply("late but fine")
    fake_provider.fault(Fault(status=200, delay_s=0.2), times=1)

    response = post_chat(fake_provider, "hi")

    assert response.json()["choices"][0]["message"]["content"] == "late but fine"
    assert response.elapsed.total_seconds() >= 0.2


def test_reset_clears_rules_and_requests(fake_provider: FakeProvider) -> None:
    fake_provider.fault(Fault.server_error())
    post_chat(fake_provider, "hi")

    fake_provider.reset()

    assert fake_provider.requests == []
    assert post_chat(fake_provider, "hi").status_code == 200


def test_invalid_rule_arguments_raise(fake_provider: FakeProvider) -> None:
    with pytest.raises(ValueError):
        fake_provider.fault(Fault(), path="/v2/chat")
    with pytest.raises(ValueError):
        fake_provider.reply("text", path=EMBEDDINGS_PATH)
    with pytest.raises(ValueError):
        fake_provider.fault(Fault(), times=0)


def test_concurrent_requests(fake_provider: FakeProvider) -> None:
    results: dict[int, str] = {}

    def call(index: int) -> None:
        response = post_chat(fake_provider, f"request {index}")
        results[index] = response.json()["choices"][0]["message"]["content"]

    threads = [threading.Thread(target=call, args=(index,)) for index in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {index: f"echo: request {index}" for index in range(32)}
    assert len(fake_provider.requests) == 32


def test_close_refuses_connections() -> None:
    provider = FakeProvider()
    url = provider.url

    provider.close()
    provider.close()

    with pytest.raises(requests.ConnectionError):
        requests.get(url + MODELS_PATH, timeout=1)
