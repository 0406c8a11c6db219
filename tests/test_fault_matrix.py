"""The fault matrix: each provider fault at each stage, through the real clients, as docs/faults.md documents it."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from fakeprovider import Fault, FakeProvider
from hybrid import HybridRouter
from hybrid.decision_log import read_records
from hybrid.record import FallbackReason, Stage, Verdict
from hybrid.settings import load_settings

WEAK_WIRE = "openai/gpt-oss-20b"
JUDGE = "openai/gpt-oss-120b"
GROQ_PATH = "/openai/v1/chat/completions"
OPENAI_PATH = "/v1/chat/completions"
PROMPT = "What is 2 + 2?"
STAGE_TIMEOUT = 1.0

FAULTS = {
    "read timeout": Fault(status=200, delay_s=3.0),
    "429 with Retry-After": Fault.rate_limited(retry_after="47", message="Rate limit reached. Please try again in 46.7s."),
    "429 without Retry-After": Fault.rate_limited(),
    "500": Fault.server_error(500),
    "503": Fault.server_error(503),
    "400 decommissioned": None,  # built per model below
    "401": Fault.unauthorized(),
    "413 request too large": Fault(status=413, body={"error": {"message": "Request too large", "type": "invalid_request_error", "code": "request_too_large"}}),
    "malformed JSON": Fault(status=200, malformed=True),
    "empty choices": Fault.empty_choices(),
    "truncated body": Fault(status=200, truncate_stream=True),
    "dropped connection": Fault(status=200, drop=True),
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_router(provider: FakeProvider, tmp_path: Path, predictor: object, **overrides: object) -> HybridRouter:
    options: dict[str, object] = {
        "openai_base_url": provider.url + "/v1", "openai_api_key": "sk-matrix",
        "groq_base_url": provider.url, "groq_api_key": "gsk-matrix",
        "log_path": tmp_path / "log.jsonl", "weak_timeout": STAGE_TIMEOUT, "judge_timeout": STAGE_TIMEOUT,
        "strong_retries": 0,
    }
    options.update(overrides)
    return HybridRouter.from_settings(load_settings(**options), predictor=predictor)


def fault_for(name: str, model: str) -> Fault:
    return Fault.decommissioned(model) if name == "400 decommissioned" else FAULTS[name]  # type: ignore[return-value]


def calls(provider: FakeProvider, path: str, model: str) -> int:
    return sum(1 for request in provider.requests if request.path == path and (request.body or {}).get("model") == model)


@pytest.mark.parametrize("name", list(FAULTS))
def test_weak_fault_falls_back(name: str, fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.fault(fault_for(name, WEAK_WIRE), model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask(PROMPT, threshold=1.0)

    record = answer.record
    assert answer.model == "gpt-4o"
    assert record.fallback_reason is FallbackReason.WEAK_FAILED
    assert record.stages[0].stage is Stage.WEAK and record.stages[0].error
    assert calls(fake_provider, GROQ_PATH, JUDGE) == 0
    assert calls(fake_provider, GROQ_PATH, WEAK_WIRE) == 1  # the weak leg never retries by default
    assert record.stages[0].latency_ms < (STAGE_TIMEOUT + 1.0) * 1000
    assert [r.request_id for r in read_records(tmp_path / "log.jsonl")] == [record.request_id]


def test_weak_connect_refused_falls_back(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, weak_api_base=f"http://127.0.0.1:{closed_port()}/openai/v1")

    record = router.ask(PROMPT, threshold=1.0).record

    assert record.fallback_reason is FallbackReason.WEAK_FAILED
    assert record.final_model == "gpt-4o"


@pytest.mark.parametrize("reply", ["", None])
def test_weak_empty_answer_skips_judge(reply: str | None, fake_provider: FakeProvider, tmp_path: Path,
                                       shipped_predictor: object) -> None:
    message = {"role": "assistant", "content": reply}
    if reply is None:
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    fake_provider.fault(Fault(status=200, body={"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}),
                        model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(PROMPT, threshold=1.0).record

    assert record.fallback_reason is FallbackReason.WEAK_EMPTY
    assert calls(fake_provider, GROQ_PATH, JUDGE) == 0


@pytest.mark.parametrize("name", list(FAULTS))
def test_judge_fault_falls_back(name: str, fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                caplog: pytest.LogCaptureFixture) -> None:
    fake_provider.reply("4", model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.fault(fault_for(name, JUDGE), model=JUDGE, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    with caplog.at_level(logging.WARNING, logger="hybrid.pipeline"):
        record = router.ask(PROMPT, threshold=1.0).record

    assert record.final_model == "gpt-4o"
    assert record.fallback_reason in (FallbackReason.JUDGE_FAILED, FallbackReason.VERDICT_UNPARSABLE)
    assert record.verdict is not Verdict.REJECT  # a failed judge call is never counted as a reject
    assert calls(fake_provider, GROQ_PATH, JUDGE) == 1
    if record.fallback_reason is FallbackReason.JUDGE_FAILED:
        assert f"request {record.request_id}: " in caplog.text


def test_judge_empty_content_is_unparsable(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("4", model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.fault(Fault.empty_content(), model=JUDGE, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(PROMPT, threshold=1.0).record

    assert record.verdict is Verdict.UNPARSABLE
    assert record.fallback_reason is FallbackReason.VERDICT_UNPARSABLE


def test_judge_doubled_groq_path_normalised(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("4", model=WEAK_WIRE, path=GROQ_PATH)
    fake_provider.respond(lambda request: {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": '{"verdict": "accept", "reason": "ok", "nonce": "%s"}' % _nonce(request)}}],
        "id": "x", "object": "chat.completion", "created": 1, "model": JUDGE, "service_tier": "on_demand",
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}, model=JUDGE, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, groq_base_url=fake_provider.url + "/openai/v1/")

    record = router.ask(PROMPT, threshold=1.0).record

    assert record.verdict is Verdict.ACCEPT
    assert all(request.path in (GROQ_PATH,) for request in fake_provider.requests)


def test_judge_json_validate_failed_recovered(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("4", model=WEAK_WIRE, path=GROQ_PATH)

    def failed_generation(request: dict[str, object]) -> Fault:
        body = {"error": {"message": "Failed to generate JSON.", "type": "invalid_request_error",
                          "code": "json_validate_failed",
                          "failed_generation": '{"verdict": "reject", "reason": "wrong", "nonce": "%s"}' % _nonce(request)}}
        return Fault(status=400, body=body)

    fake_provider.respond(failed_generation, model=JUDGE, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(PROMPT, threshold=1.0).record

    assert record.verdict is Verdict.REJECT
    assert record.fallback_reason is FallbackReason.JUDGE_REJECTED


def _nonce(request: dict[str, object]) -> str:
    for message in request["messages"]:  # type: ignore[union-attr]
        content = str(message["content"])  # type: ignore[index]
        if "<answer-" in content:
            return content.split("<answer-", 1)[1].split(">", 1)[0]
    return ""


EMBED_FAULTS = {
    "500": Fault.server_error(500),
    "429": Fault.rate_limited(retry_after="1"),
    "401": Fault.unauthorized(),
    "malformed JSON": Fault(status=200, malformed=True),
    "read timeout": Fault(status=200, delay_s=3.0),
}


@pytest.mark.parametrize("name", list(EMBED_FAULTS))
def test_embedding_fault_routes_strong(name: str, fake_provider: FakeProvider, tmp_path: Path) -> None:
    import torch

    from hybrid.mf import OFFICIAL_CONFIG, mf_model_class, save_mf_checkpoint

    MFModel, _ = mf_model_class()
    save_mf_checkpoint(MFModel(**OFFICIAL_CONFIG), dict(OFFICIAL_CONFIG), {}, tmp_path / "official")
    fake_provider.fault(EMBED_FAULTS[name], path="/v1/embeddings")
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    settings = load_settings(embedder="openai", checkpoint=str(tmp_path / "official"), embed_timeout=1.0,
                             openai_base_url=fake_provider.url + "/v1", openai_api_key="sk-matrix",
                             groq_base_url=fake_provider.url, groq_api_key="gsk-matrix", strong_retries=0,
                             log_path=tmp_path / "log.jsonl")
    router = HybridRouter.from_settings(settings)
    torch.manual_seed(0)

    answer = router.ask(PROMPT, threshold=0.5)

    record = answer.record
    assert answer.model == "gpt-4o"
    assert record.route.value == "strong"
    assert record.win_rate is None
    assert any("PredictionError" in error for error in record.errors)
    assert calls(fake_provider, GROQ_PATH, WEAK_WIRE) == 0
