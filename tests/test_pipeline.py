"""The live pipeline, end to end: real LiteLLM, groq and requests clients against a loopback provider.

Routes are forced with thresholds 0.0 (every prompt goes strong) and 1.0 (every
prompt goes weak, since a win rate is a sigmoid and stays below 1).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from pathlib import Path

import litellm
import pytest

from fakeprovider import Fault, FakeProvider, verdict_text
from hybrid import ConfigurationError, HybridRouter, InputError, ModelNotFoundError, ProviderError
from hybrid.decision_log import read_records
from hybrid.record import FallbackReason, Route, Stage, Verdict
from hybrid.settings import load_settings

OPENAI_KEY = "sk-test-openai-Zq81xKEY"
GROQ_KEY = "gsk-test-groq-Pw42yKEY"
WEAK_WIRE_MODEL = "openai/gpt-oss-20b"  # what LiteLLM sends for groq/openai/gpt-oss-20b
JUDGE_MODEL = "openai/gpt-oss-120b"
GROQ_PATH = "/openai/v1/chat/completions"
OPENAI_PATH = "/v1/chat/completions"
ACCEPT_WORDS = len(verdict_text("accept", "correct", "0" * 16).split())


def make_router(provider: FakeProvider, tmp_path: Path, predictor: object, **overrides: object) -> HybridRouter:
    options: dict[str, object] = {
        "openai_base_url": provider.url + "/v1",
        "openai_api_key": OPENAI_KEY,
        "groq_base_url": provider.url,
        "groq_api_key": GROQ_KEY,
        "log_path": tmp_path / "decisions.jsonl",
        "strong_retries": 1,
        "fallback_system_prompt": "Answer in Brazilian Portuguese.",
    }
    options.update(overrides)
    settings = load_settings(**options)
    return HybridRouter.from_settings(settings, predictor=predictor)


def calls(provider: FakeProvider, path: str) -> list[object]:
    """Requests to exactly `path`; `requests_to` matches suffixes, and the Groq path ends like OpenAI's."""
    return [request for request in provider.requests if request.path == path]


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    entry = litellm.model_cost[model]
    return prompt_tokens * entry["input_cost_per_token"] + completion_tokens * entry["output_cost_per_token"]


def words(text: str) -> int:
    return len(text.split())


def test_weak_answer_accepted(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Two plus two is 4.", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask("What is 2 + 2?", threshold=1.0)

    record = answer.record
    assert answer.text == "Two plus two is 4."
    assert answer.model == "groq/openai/gpt-oss-20b"
    assert record.route is Route.WEAK
    assert record.verdict is Verdict.ACCEPT
    assert record.fallback is False
    assert [stage.stage for stage in record.stages] == [Stage.WEAK, Stage.JUDGE]
    assert calls(fake_provider, OPENAI_PATH) == []

    weak_request, judge_request = calls(fake_provider, GROQ_PATH)
    assert weak_request.body["model"] == WEAK_WIRE_MODEL
    assert judge_request.body["model"] == JUDGE_MODEL
    assert judge_request.body["temperature"] == 0
    assert judge_request.body["response_format"] == {"type": "json_object"}
    assert judge_request.headers["authorization"] == f"Bearer {GROQ_KEY}"

    weak_stage, judge_stage = record.stages
    assert weak_stage.prompt_tokens == words("What is 2 + 2?")
    assert weak_stage.completion_tokens == words("Two plus two is 4.")
    assert weak_stage.cost_usd == pytest.approx(price("groq/openai/gpt-oss-20b", words("What is 2 + 2?"), words("Two plus two is 4.")))
    judge_prompt_words = sum(words(m["content"]) for m in judge_request.body["messages"])
    assert judge_stage.cost_usd == pytest.approx(price("groq/openai/gpt-oss-120b", judge_prompt_words, ACCEPT_WORDS))
    assert record.total_cost_usd == pytest.approx(weak_stage.cost_usd + judge_stage.cost_usd)
    assert record.strong_only_cost_usd == pytest.approx(price("gpt-4o", words("What is 2 + 2?"), words("Two plus two is 4.")))


def test_rejected_answer_falls_back_over_rest(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Two plus two is 5.", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong arithmetic", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.reply("Dois mais dois é 4.", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask("What is 2 + 2?", threshold=1.0)

    record = answer.record
    assert answer.text == "Dois mais dois é 4."
    assert answer.model == "gpt-4o"
    assert record.verdict is Verdict.REJECT
    assert record.verdict_reason == "wrong arithmetic"
    assert record.fallback_reason is FallbackReason.JUDGE_REJECTED
    assert [stage.stage for stage in record.stages] == [Stage.WEAK, Stage.JUDGE, Stage.FALLBACK]

    (fallback_request,) = calls(fake_provider, OPENAI_PATH)
    assert fallback_request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert fallback_request.body["messages"][0] == {"role": "system", "content": "Answer in Brazilian Portuguese."}
    assert fallback_request.body["messages"][-1] == {"role": "user", "content": "What is 2 + 2?"}
    assert record.total_cost_usd == pytest.approx(sum(stage.cost_usd for stage in record.stages))


def test_strong_route_calls_only_strong(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Paris.", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask([{"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}], threshold=0.0)

    assert answer.text == "Paris."
    assert answer.record.route is Route.STRONG
    assert answer.record.verdict is None
    assert [stage.stage for stage in answer.record.stages] == [Stage.STRONG]
    assert calls(fake_provider, GROQ_PATH) == []
    (request,) = calls(fake_provider, OPENAI_PATH)
    assert "messages" in request.body
    assert request.body["messages"][0]["role"] == "user"
    assert answer.record.win_rate == pytest.approx(float(shipped_predictor.win_rates(["Capital of France?"])[0]))


def test_garbage_verdict_is_unparsable(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("It is 4.", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.reply("Looks fine to me! ACCEPT", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask("What is 2 + 2?", threshold=1.0).record

    assert record.verdict is Verdict.UNPARSABLE
    assert record.judge_raw == "Looks fine to me! ACCEPT"
    assert record.fallback_reason is FallbackReason.VERDICT_UNPARSABLE
    assert record.final_model == "gpt-4o"


def test_weak_timeout_falls_back(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.fault(Fault(status=200, delay_s=3.0), model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, weak_timeout=0.5)

    record = router.ask("What is 2 + 2?", threshold=1.0).record

    assert record.fallback_reason is FallbackReason.WEAK_FAILED
    assert record.final_model == "gpt-4o"
    assert record.stages[0].stage is Stage.WEAK
    assert "ProviderTimeoutError" in (record.stages[0].error or "")
    assert [r.body["model"] for r in calls(fake_provider, GROQ_PATH)] == [WEAK_WIRE_MODEL]
    assert record.stages[0].latency_ms < 2500


def test_deadline_cut_names_request_timeout(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                           caplog: pytest.LogCaptureFixture) -> None:
    fake_provider.fault(Fault(status=200, delay_s=3.0), model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    with caplog.at_level(logging.WARNING, logger="hybrid.pipeline"):
        router = make_router(fake_provider, tmp_path, shipped_predictor, request_timeout=0.5)

    with pytest.raises(ProviderError) as caught:
        router.ask("What is 2 + 2?", threshold=1.0)
    (record,) = list(read_records(tmp_path / "decisions.jsonl"))

    assert "leave no time for the strong fallback" in caplog.text
    assert caught.value.setting == "HYBRID_REQUEST_TIMEOUT"
    assert record.stages[0].stage is Stage.WEAK
    assert "deadline ran out; raise HYBRID_REQUEST_TIMEOUT" in (record.stages[0].error or "")
    assert "HYBRID_WEAK_TIMEOUT" not in (record.stages[0].error or "")
    assert len(record.errors) == len(set(record.errors))
    assert calls(fake_provider, OPENAI_PATH) == []


def test_cli_json_stays_clean_on_weak_failure(fake_provider: FakeProvider, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid.cli import main

    fake_provider.fault(Fault.server_error(500), model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    settings_file = tmp_path / "settings.env"
    settings_file.write_text(
        f"HYBRID_OPENAI_BASE_URL={fake_provider.url}/v1\nHYBRID_OPENAI_API_KEY={OPENAI_KEY}\n"
        f"HYBRID_GROQ_BASE_URL={fake_provider.url}\nHYBRID_GROQ_API_KEY={GROQ_KEY}\n"
        f"HYBRID_LOG_PATH={tmp_path / 'cli.jsonl'}\nHYBRID_WEAK_RETRIES=0\n"
    )

    status = main(["--settings", str(settings_file), "ask", "--threshold", "1.0", "--json", "What is 2 + 2?"])
    # LiteLLM prints a help banner to stdout after a failed call unless litellm.suppress_debug_info is set.
    record = json.loads(capsys.readouterr().out)

    assert status == 0
    assert record["fallback_reason"] == "weak_failed"
    assert record["answer"] == "4"


def test_fallback_5xx_raises_and_logs(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("4?", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong arithmetic", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.fault(Fault.server_error(503), model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, strong_retries=1)

    with pytest.raises(ProviderError) as caught:
        router.ask("What is 2 + 2?", threshold=1.0)

    assert caught.value.stage == "fallback"
    assert caught.value.status == 503
    assert caught.value.setting == "HYBRID_OPENAI_BASE_URL"
    assert len(calls(fake_provider, OPENAI_PATH)) == 2  # one try plus one retry

    (record,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert record.final_model is None
    assert record.fallback_reason is FallbackReason.JUDGE_REJECTED
    assert any("503" in error for error in record.errors)


def test_decommissioned_weak_model_escalates(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                             caplog: pytest.LogCaptureFixture) -> None:
    fake_provider.fault(Fault.decommissioned(WEAK_WIRE_MODEL), model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.reply("4", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    with caplog.at_level(logging.ERROR, logger="hybrid"):
        record = router.ask("What is 2 + 2?", threshold=1.0).record

    assert record.fallback_reason is FallbackReason.WEAK_FAILED
    assert record.final_model == "gpt-4o"
    assert "HYBRID_WEAK_MODEL" in caplog.text
    assert len(calls(fake_provider, GROQ_PATH)) == 1


def test_decommissioned_strong_model_names_setting(fake_provider: FakeProvider, tmp_path: Path,
                                                   shipped_predictor: object) -> None:
    fake_provider.fault(Fault.decommissioned("gpt-4o"), model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    with pytest.raises(ModelNotFoundError) as caught:
        router.ask("Capital of France?", threshold=0.0)

    assert caught.value.setting == "HYBRID_STRONG_MODEL"
    assert "HYBRID_STRONG_MODEL" in str(caught.value)
    assert len(calls(fake_provider, OPENAI_PATH)) == 1


def test_missing_key_names_variable(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    router = make_router(fake_provider, tmp_path, shipped_predictor, groq_api_key=None)

    with pytest.raises(ConfigurationError, match="HYBRID_GROQ_API_KEY"):
        router.ask("What is 2 + 2?", threshold=1.0)

    assert fake_provider.requests == []
    assert len(list(read_records(tmp_path / "decisions.jsonl"))) == 1


def test_keys_never_written(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                            caplog: pytest.LogCaptureFixture) -> None:
    fake_provider.reply("4", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("reject", "wrong arithmetic", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.fault(Fault.unauthorized(), model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ProviderError) as caught:
            router.ask("What is 2 + 2?", threshold=1.0)

    written = "\n".join([
        caplog.text,
        (tmp_path / "decisions.jsonl").read_text(),
        str(caught.value),
        repr(caught.value),
        repr(router.settings),
        str(router.settings.model_dump()),
    ])
    assert caught.value.status == 401
    assert len(calls(fake_provider, OPENAI_PATH)) == 1  # a 401 is not retried
    for key in (OPENAI_KEY, GROQ_KEY):
        assert key not in written


def test_concurrent_requests_each_logged_once(fake_provider: FakeProvider, tmp_path: Path,
                                              shipped_predictor: object) -> None:
    fake_provider.reply("4", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)
    prompts = [f"What is {n} + {n}?" for n in range(40)]

    async def run_all() -> list[object]:
        return await asyncio.gather(*(router.aask(prompt, threshold=1.0) for prompt in prompts))

    answers = asyncio.run(run_all())

    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    ids = [json.loads(line)["request_id"] for line in lines]
    assert len(lines) == len(prompts)
    assert sorted(ids) == sorted(answer.record.request_id for answer in answers)
    assert len(set(ids)) == len(prompts)
    assert sorted(json.loads(line)["prompt"] for line in lines) == sorted(prompts)


def test_ask_inside_running_loop(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Paris.", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    async def notebook_cell() -> str:
        return router.ask("Capital of France?", threshold=0.0).text

    assert asyncio.run(notebook_cell()) == "Paris."


def test_hash_policy_keeps_text_out(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.reply("Paris is the capital.", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, log_prompts="hash")

    router.ask("Capital of France?", threshold=0.0)

    text = (tmp_path / "decisions.jsonl").read_text()
    record = json.loads(text)
    assert "Capital of France" not in text
    assert "Paris is" not in text
    assert record["prompt_sha256"] == hashlib.sha256(b"Capital of France?").hexdigest()
    assert record["answer_sha256"] == hashlib.sha256(b"Paris is the capital.").hexdigest()


def test_prompt_over_context_rejected(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    limit = litellm.model_cost["gpt-4o"]["max_input_tokens"]
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    with pytest.raises(InputError, match=f"more than the {limit}"):
        router.ask("word " * (limit + 10))

    assert fake_provider.requests == []


def test_multi_turn_weak_sees_all_judge_sees_last(fake_provider: FakeProvider, tmp_path: Path,
                                                  shipped_predictor: object) -> None:
    fake_provider.reply("It is 6.", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("accept", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3 + 3?"},
    ]

    record = router.ask(conversation, threshold=1.0).record

    weak_request, judge_request = calls(fake_provider, GROQ_PATH)
    assert weak_request.body["messages"] == conversation
    judged = judge_request.body["messages"][-1]["content"]
    assert "And 3 + 3?" in judged
    assert "What is 2 + 2?" not in judged
    assert record.win_rate == pytest.approx(float(shipped_predictor.win_rates(["And 3 + 3?"])[0]))
    assert record.prompt == "And 3 + 3?"


def test_aroute_keeps_loop_responsive(fake_provider: FakeProvider, tmp_path: Path) -> None:
    """Routing runs in a worker thread: the loop keeps ticking while each embedding call takes 100 ms."""
    import torch

    from hybrid.mf import OFFICIAL_CONFIG, mf_model_class, save_mf_checkpoint

    MFModel, _ = mf_model_class()
    torch.manual_seed(0)
    save_mf_checkpoint(MFModel(**OFFICIAL_CONFIG), dict(OFFICIAL_CONFIG), {}, tmp_path / "official")
    fake_provider.fault(Fault(status=200, delay_s=0.1), path="/v1/embeddings")
    settings = load_settings(embedder="openai", checkpoint=str(tmp_path / "official"), log_path=tmp_path / "log.jsonl",
                             openai_base_url=fake_provider.url + "/v1", openai_api_key=OPENAI_KEY)
    router = HybridRouter.from_settings(settings)
    prompts = [f"Explain topic number {n} in depth." for n in range(10)]
    lags: list[float] = []

    async def run() -> list[object]:
        done = asyncio.Event()

        async def tick() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - started - 0.005)

        ticker = asyncio.create_task(tick())
        decisions = [await router.aroute(prompt, threshold=0.5) for prompt in prompts]
        done.set()
        await ticker
        return decisions

    decisions = asyncio.run(run())

    assert len(decisions) == len(prompts)
    assert len(fake_provider.requests_to("/v1/embeddings")) == len(prompts)
    assert len(lags) > 50  # about 1 s of routing at one tick per 5 ms
    assert max(lags) < 0.05, f"max event-loop lag {max(lags) * 1000:.1f} ms"


def test_sequential_asks_reuse_judge(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    """Each synchronous ask runs on its own event loop; the judge must still answer every time."""
    fake_provider.reply("4", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("accept", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    records = [router.ask(f"What is {n} + {n}?", threshold=1.0).record for n in range(3)]

    assert [record.verdict for record in records] == [Verdict.ACCEPT] * 3
    assert [record.fallback_reason for record in records] == [None] * 3


def test_none_policy_keeps_text_out(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                    caplog: pytest.LogCaptureFixture) -> None:
    fake_provider.reply("Two plus two is four.", model=WEAK_WIRE_MODEL, path=GROQ_PATH)
    fake_provider.verdict("reject", "the arithmetic is off", model=JUDGE_MODEL, path=GROQ_PATH)
    fake_provider.reply("Paris is the capital.", model="gpt-4o", path=OPENAI_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, log_prompts="none")

    with caplog.at_level(logging.DEBUG, logger="hybrid"):
        router.ask("Quanto é dois mais dois?", threshold=1.0)

    text = (tmp_path / "decisions.jsonl").read_text() + caplog.text
    record = json.loads((tmp_path / "decisions.jsonl").read_text())
    for fragment in ("dois mais dois", "Two plus two", "Paris is", "arithmetic is off"):
        assert fragment not in text
    assert record["prompt"] is None
    assert record["prompt_sha256"] is None
    assert record["answer"] is None
    assert record["answer_sha256"] is None
    assert record["verdict"] == "reject"


@pytest.mark.parametrize(("threshold", "message"), [
    (True, "threshold True is a bool, not a number"),
    ("0.5", "threshold '0.5' is a str, not a number"),
    (1.5, "threshold 1.5 is outside [0, 1]"),
    (float("nan"), "threshold nan is outside [0, 1]"),
])
def test_bad_threshold_rejected_before_any_call(threshold: object, message: str, fake_provider: FakeProvider,
                                                tmp_path: Path, shipped_predictor: object) -> None:
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    with pytest.raises(InputError) as caught:
        router.ask("What is 2 + 2?", threshold=threshold)  # type: ignore[arg-type]

    assert message in str(caught.value)
    assert fake_provider.requests == []
    assert not (tmp_path / "decisions.jsonl").exists()
