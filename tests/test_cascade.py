"""Cascade mode with the live LiteLLM, requests and groq clients against a loopback provider."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import litellm
import pytest

from fakeprovider import Fault, FakeProvider, answer_nonce, verdict_text
from hybrid import ConfigurationError, HybridRouter, ProviderTimeoutError
from hybrid.cli import main
from hybrid.decision_log import read_records
from hybrid.record import SCHEMA_VERSION, DecisionRecord, FallbackReason, Mode, Stage, Verdict
from hybrid.settings import load_settings

OPENAI_KEY = "sk-test-openai-cascade"
GROQ_KEY = "gsk-test-groq-cascade"
GROQ_PATH = "/openai/v1/chat/completions"
OPENAI_PATH = "/v1/chat/completions"
CHEAP, MID, TOP = "groq/openai/gpt-oss-20b", "groq/qwen/qwen3.8-27b", "gpt-4o"
WIRE = {CHEAP: "openai/gpt-oss-20b", MID: "qwen/qwen3.8-27b"}
JUDGE_MODEL = "openai/gpt-oss-120b"
ACCEPT_WORDS = len(verdict_text("accept", "correct", "0" * 16).split())
REJECT_WORDS = len(verdict_text("reject", "wrong", "0" * 16).split())
QUESTION = "What is the capital of France?"
ANSWER_TAG = re.compile(r"<answer-([0-9a-f]+)>\n(.*?)\n</answer-\1>", re.DOTALL)


def make_router(provider: FakeProvider, tmp_path: Path, predictor: object, **overrides: object) -> HybridRouter:
    options: dict[str, object] = {
        "openai_base_url": provider.url + "/v1",
        "openai_api_key": OPENAI_KEY,
        "groq_base_url": provider.url,
        "groq_api_key": GROQ_KEY,
        "log_path": tmp_path / "decisions.jsonl",
        "strong_retries": 0,
        "cascade_tiers": [CHEAP, MID, TOP],
    }
    options.update(overrides)
    return HybridRouter.from_settings(load_settings(**options), predictor=predictor)


def calls(provider: FakeProvider, path: str, model: str | None = None) -> list[object]:
    """Requests to exactly `path`, and to `model` when given; the Groq path also ends like OpenAI's."""
    return [r for r in provider.requests if r.path == path and (model is None or r.body.get("model") == model)]


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    entry = litellm.model_cost[model]
    return prompt_tokens * entry["input_cost_per_token"] + completion_tokens * entry["output_cost_per_token"]


def words(text: str) -> int:
    return len(text.split())


def request_words(request: object) -> int:
    return sum(words(message["content"]) for message in request.body["messages"])


def judge_accepting(answer: str) -> object:
    """A judge responder that accepts exactly the given answer text and rejects every other."""
    def respond(request: dict) -> dict:
        judged = ANSWER_TAG.search(request["messages"][-1]["content"]).group(2)
        nonce = answer_nonce(request)
        verdict = verdict_text("accept", "correct", nonce) if judged == answer else verdict_text("reject", "wrong", nonce)
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": verdict}, "finish_reason": "stop"}]}
    return respond


def test_first_accept_stops(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Paris.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask(QUESTION, mode="cascade")

    record = answer.record
    assert answer.text == "Paris."
    assert answer.model == CHEAP
    assert record.mode is Mode.CASCADE
    assert record.verdict is Verdict.ACCEPT
    assert record.fallback is False
    assert [(s.stage, s.tier, s.verdict) for s in record.stages] == [
        (Stage.TIER, 0, Verdict.ACCEPT), (Stage.JUDGE, 0, None)]
    assert calls(fake_provider, GROQ_PATH, WIRE[MID]) == []
    assert calls(fake_provider, OPENAI_PATH) == []

    (judge_request,) = calls(fake_provider, GROQ_PATH, JUDGE_MODEL)
    assert ANSWER_TAG.search(judge_request.body["messages"][-1]["content"]).group(2) == "Paris."
    tier_cost = price(CHEAP, words(QUESTION), words("Paris."))
    judge_cost = price("groq/" + JUDGE_MODEL, request_words(judge_request), ACCEPT_WORDS)
    assert record.stages[0].cost_usd == pytest.approx(tier_cost)
    assert record.total_cost_usd == pytest.approx(tier_cost + judge_cost)
    assert record.strong_only_cost_usd == pytest.approx(price(TOP, words(QUESTION), words("Paris.")))


def test_second_tier_accepted(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.reply("Paris.", model=WIRE[MID], path=GROQ_PATH)
    fake_provider.respond(judge_accepting("Paris."), model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(QUESTION, mode="cascade").record

    assert record.final_model == MID
    assert record.fallback_reason is FallbackReason.JUDGE_REJECTED
    assert [(s.stage, s.model, s.tier, s.verdict) for s in record.stages] == [
        (Stage.TIER, CHEAP, 0, Verdict.REJECT), (Stage.JUDGE, JUDGE_MODEL, 0, None),
        (Stage.TIER, MID, 1, Verdict.ACCEPT), (Stage.JUDGE, JUDGE_MODEL, 1, None)]
    assert calls(fake_provider, OPENAI_PATH) == []


def test_last_tier_unjudged(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.reply("Marseille.", model=WIRE[MID], path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.reply("Paris, of course.", model=TOP, path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask(QUESTION, mode="cascade")

    record = answer.record
    assert answer.text == "Paris, of course."
    assert answer.model == TOP
    assert [(s.stage, s.tier, s.verdict) for s in record.stages] == [
        (Stage.TIER, 0, Verdict.REJECT), (Stage.JUDGE, 0, None),
        (Stage.TIER, 1, Verdict.REJECT), (Stage.JUDGE, 1, None),
        (Stage.TIER, 2, None)]
    assert len(calls(fake_provider, GROQ_PATH, JUDGE_MODEL)) == 2
    assert record.verdict is Verdict.REJECT
    assert record.fallback_reason is FallbackReason.JUDGE_REJECTED

    judge_requests = calls(fake_provider, GROQ_PATH, JUDGE_MODEL)
    expected = (
        price(CHEAP, words(QUESTION), words("Lyon."))
        + price(MID, words(QUESTION), words("Marseille."))
        + sum(price("groq/" + JUDGE_MODEL, request_words(r), REJECT_WORDS) for r in judge_requests)
        + price(TOP, words(QUESTION), words("Paris, of course."))
    )
    assert record.total_cost_usd == pytest.approx(expected)
    assert record.strong_only_cost_usd == pytest.approx(price(TOP, words(QUESTION), words("Paris, of course.")))

    (logged,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert logged == record


def test_max_tiers_limits_cascade(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.reply("Marseille.", model=WIRE[MID], path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, cascade_max_tiers=2)

    answer = router.ask(QUESTION, mode="cascade")

    assert answer.text == "Marseille."
    assert [s.stage for s in answer.record.stages] == [Stage.TIER, Stage.JUDGE, Stage.TIER]
    assert calls(fake_provider, OPENAI_PATH) == []


def test_failed_tier_is_skipped(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.fault(Fault.server_error(503), model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.reply("Paris.", model=WIRE[MID], path=GROQ_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(QUESTION, mode="cascade").record

    assert record.final_model == MID
    assert record.fallback_reason is FallbackReason.TIER_FAILED
    assert record.stages[0].tier == 0
    assert "503" in (record.stages[0].error or "")
    assert record.stages[0].cost_usd is None
    assert len(calls(fake_provider, GROQ_PATH, JUDGE_MODEL)) == 1


def test_budget_stop_recorded(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, cascade_tiers=[CHEAP, TOP],
                         cascade_budget_usd=0.001, cascade_estimated_output_tokens=500)

    answer = router.ask(QUESTION, mode="cascade")

    record = answer.record
    assert calls(fake_provider, OPENAI_PATH) == []
    assert answer.text == "Lyon."
    assert record.budget_usd == 0.001
    assert record.budget_stopped is True
    stop = record.budget_stop
    assert (stop.stage, stop.model, stop.tier) == (Stage.TIER, TOP, 1)
    top_prompt_tokens = litellm.token_counter(model=TOP, messages=[{"role": "user", "content": QUESTION}])
    assert stop.estimated_cost_usd == pytest.approx(price(TOP, top_prompt_tokens, 500))
    assert stop.spent_usd == pytest.approx(record.total_cost_usd)
    assert stop.spent_usd + stop.estimated_cost_usd > 0.001


def test_budget_allows_whole_cascade(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.reply("Paris.", model=TOP, path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, cascade_tiers=[CHEAP, TOP],
                         cascade_budget_usd=0.05)

    record = router.ask(QUESTION, mode="cascade").record

    assert record.final_model == TOP
    assert record.budget_stopped is False
    assert record.budget_stop is None


def test_budget_below_first_tier(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    router = make_router(fake_provider, tmp_path, shipped_predictor, cascade_budget_usd=1e-9)

    with pytest.raises(ConfigurationError, match="HYBRID_CASCADE_BUDGET_USD") as caught:
        router.ask(QUESTION, mode="cascade")

    assert caught.value.setting == "HYBRID_CASCADE_BUDGET_USD"
    assert fake_provider.requests == []
    (logged,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert logged.budget_stopped is True
    assert logged.final_model is None


@pytest.mark.parametrize("policy, tier0_verdict, returned", [("reject", Verdict.REJECT, "Marseille."),
                                                              ("skip", None, "Lyon.")])
def test_judge_error_reject_vs_skip(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                    policy: str, tier0_verdict: Verdict | None, returned: str) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.reply("Marseille.", model=WIRE[MID], path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.fault(Fault.server_error(500), model=JUDGE_MODEL, path=GROQ_PATH, times=1)
    # The budget fits the two cheap tiers and their judge calls, but not gpt-4o's 512 assumed output tokens.
    router = make_router(fake_provider, tmp_path, shipped_predictor, cascade_judge_error=policy,
                         cascade_budget_usd=0.004)

    answer = router.ask(QUESTION, mode="cascade")

    record = answer.record
    assert calls(fake_provider, OPENAI_PATH) == []
    assert record.budget_stopped is True
    assert record.budget_stop.model == TOP
    assert answer.text == returned
    tier0, judge0, tier1, judge1 = record.stages
    assert tier0.verdict == tier0_verdict
    assert "500" in (judge0.error or "")
    assert judge0.tier == 0
    assert tier1.verdict is Verdict.REJECT
    assert judge1.error is None


def test_judge_error_without_budget_reaches_last(fake_provider: FakeProvider, tmp_path: Path,
                                                shipped_predictor: object) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.fault(Fault.server_error(500), model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.reply("Paris.", model=TOP, path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, cascade_tiers=[CHEAP, TOP])

    record = router.ask(QUESTION, mode="cascade").record

    assert record.final_model == TOP
    assert record.fallback_reason is FallbackReason.JUDGE_FAILED
    assert record.stages[0].verdict is Verdict.REJECT


def test_last_tier_failure_raises(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Lyon.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.fault(Fault.server_error(502), model=TOP, path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, cascade_tiers=[CHEAP, TOP])

    from hybrid import ProviderError

    with pytest.raises(ProviderError) as caught:
        router.ask(QUESTION, mode="cascade")

    assert caught.value.status == 502
    assert caught.value.stage == "cascade"
    (logged,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert logged.final_model is None
    assert [s.tier for s in logged.stages] == [0, 0, 1]


def test_cli_ask_cascade(fake_provider: FakeProvider, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    fake_provider.reply("Paris.", model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)
    settings_file = tmp_path / "settings.env"
    settings_file.write_text(
        f"HYBRID_OPENAI_BASE_URL={fake_provider.url}/v1\nHYBRID_OPENAI_API_KEY={OPENAI_KEY}\n"
        f"HYBRID_GROQ_BASE_URL={fake_provider.url}\nHYBRID_GROQ_API_KEY={GROQ_KEY}\n"
        f"HYBRID_LOG_PATH={tmp_path / 'cli.jsonl'}\nHYBRID_CASCADE_TIERS=[\"{CHEAP}\", \"{TOP}\"]\n"
    )
    monkeypatch.chdir(tmp_path)

    status = main(["--settings", str(settings_file), "ask", "--mode", "cascade", "--json", QUESTION])

    record = json.loads(capsys.readouterr().out)
    assert status == 0
    assert record["mode"] == "cascade"
    assert record["final_model"] == CHEAP
    assert record["stages"][0]["tier"] == 0
    assert record["schema_version"] == SCHEMA_VERSION == 2


def test_version_1_record_still_validates() -> None:
    line = {
        "schema_version": 1, "request_id": "abc", "started_at": "2025-01-01T00:00:00Z",
        "finished_at": "2025-01-01T00:00:01Z", "latency_ms": 1000.0, "mode": "hybrid",
        "stages": [{"stage": "weak", "model": "m", "latency_ms": 5.0}], "verdict": "accept",
        "fallback": False, "final_model": "m", "total_cost_usd": 0.001, "errors": [],
    }

    record = DecisionRecord.model_validate(line)

    assert record.schema_version == 1
    assert record.stages[0].tier is None
    assert record.budget_stopped is False
    assert record.judge_choices == []


def test_request_deadline_cuts_tiers(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    """A slow first tier eats the request deadline, so the cascade stops with a timeout instead of waiting it out."""
    fake_provider.fault(Fault(status=200, delay_s=5.0), model=WIRE[CHEAP], path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, request_timeout=1.0)

    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError):
        router.ask(QUESTION, mode="cascade")

    assert time.monotonic() - started < 3.0
    assert len(fake_provider.requests) == 1
    (record,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert "deadline ran out; raise HYBRID_REQUEST_TIMEOUT" in (record.stages[0].error or "")
