"""Parallel mode (best of N) with the live LiteLLM, requests and groq clients against a loopback provider."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import litellm
import pytest

from fakeprovider import Fault, FakeProvider
from hybrid import HybridRouter, ProviderError
from hybrid.decision_log import read_records
from hybrid.parallel_choice import parse_choice
from hybrid.record import ChoiceReason, FallbackReason, Mode, Stage
from hybrid.settings import load_settings

OPENAI_KEY = "sk-test-openai-parallel"
GROQ_KEY = "gsk-test-groq-parallel"
GROQ_PATH = "/openai/v1/chat/completions"
OPENAI_PATH = "/v1/chat/completions"
CHEAP, MID, TOP = "groq/openai/gpt-oss-20b", "groq/qwen/qwen3.8-27b", "gpt-4o"
MODELS = [CHEAP, MID, TOP]
WIRE = {CHEAP: "openai/gpt-oss-20b", MID: "qwen/qwen3.8-27b"}
ANSWERS = {CHEAP: "Lyon.", MID: "Paris.", TOP: "Marseille."}
JUDGE_MODEL = "openai/gpt-oss-120b"
QUESTION = "What is the capital of France?"
CANDIDATE_TAG = re.compile(r"<candidate-([A-Z])-([0-9a-f]+)>\n(.*?)\n</candidate-\1-\2>", re.DOTALL)


def make_router(provider: FakeProvider, tmp_path: Path, predictor: object, **overrides: object) -> HybridRouter:
    options: dict[str, object] = {
        "openai_base_url": provider.url + "/v1",
        "openai_api_key": OPENAI_KEY,
        "groq_base_url": provider.url,
        "groq_api_key": GROQ_KEY,
        "log_path": tmp_path / "decisions.jsonl",
        "strong_retries": 0,
        "parallel_models": MODELS,
    }
    options.update(overrides)
    return HybridRouter.from_settings(load_settings(**options), predictor=predictor)


def script_candidates(provider: FakeProvider, answers: dict[str, str] = ANSWERS) -> None:
    for model, text in answers.items():
        if model == TOP:
            provider.reply(text, model=TOP, path=OPENAI_PATH)
        else:
            provider.reply(text, model=WIRE[model], path=GROQ_PATH)


def judge_requests(provider: FakeProvider) -> list[object]:
    return [r for r in provider.requests if r.path == GROQ_PATH and r.body.get("model") == JUDGE_MODEL]


def shown(request_body: dict) -> list[tuple[str, str]]:
    """The (label, answer) pairs of a judge request, in the order shown."""
    return [(label, text) for label, _, text in CANDIDATE_TAG.findall(request_body["messages"][-1]["content"])]


def judge_reply(make_output: Callable[[list[tuple[str, str]]], str]) -> Callable[[dict], dict]:
    """A judge responder whose output depends on the candidates shown; usage counts words like FakeProvider."""
    def respond(request: dict) -> dict:
        content = make_output(shown(request))
        prompt_tokens = sum(words(message["content"]) for message in request["messages"])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": words(content),
                 "total_tokens": prompt_tokens + words(content)}
        choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        return {"choices": [choice], "usage": usage}
    return respond


def label_of(pairs: list[tuple[str, str]], answer: str) -> str:
    return next(label for label, text in pairs if text == answer)


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    entry = litellm.model_cost[model]
    return prompt_tokens * entry["input_cost_per_token"] + completion_tokens * entry["output_cost_per_token"]


def words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("template", ['{{"choice": "**{label}**", "reason": "right city"}}',
                                      '{{"choice": " {lower} ", "reason": "right city"}}',
                                      '```json\n{{"Choice": "Candidate {label}"}}\n```',
                                      "**{label}**"])
def test_label_noise_maps_to_candidate(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                       template: str) -> None:
    script_candidates(fake_provider)

    def output(pairs: list[tuple[str, str]]) -> str:
        label = label_of(pairs, "Paris.")
        return template.format(label=label, lower=label.lower())

    fake_provider.respond(judge_reply(output), model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask(QUESTION, mode="parallel")

    record = answer.record
    (request,) = judge_requests(fake_provider)
    assert answer.text == "Paris."
    assert answer.model == MID
    assert record.mode is Mode.PARALLEL
    assert record.choice_reason is ChoiceReason.JUDGE
    assert record.fallback is False
    (choice,) = record.judge_choices
    assert choice.label == label_of(shown(request.body), "Paris.")
    assert choice.model == MID
    for model in MODELS:
        assert ANSWERS[model] in request.body["messages"][-1]["content"]
        assert model not in request.body["messages"][-1]["content"]


def test_seed_recorded_reproduces_order(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.respond(judge_reply(lambda pairs: '{"choice": "A", "reason": "first"}'), model=JUDGE_MODEL,
                          path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, parallel_seed=11)

    first = router.ask(QUESTION, mode="parallel").record
    second = router.ask(QUESTION, mode="parallel").record

    order = list(range(len(MODELS)))
    random.Random(first.parallel_seed).shuffle(order)
    expected = [MODELS[i] for i in order]
    requests = judge_requests(fake_provider)
    by_answer = {text: model for model, text in ANSWERS.items()}
    assert [by_answer[text] for _, text in shown(requests[0].body)] == expected
    assert [(c.label, c.model) for c in first.candidates] == list(zip("ABC", expected))
    assert first.judge_choices[0].order == expected
    assert first.final_model == expected[0]
    assert [s.candidate for s in first.stages if s.stage is Stage.CANDIDATE and s.model == expected[0]] == ["A"]
    assert second.parallel_seed == first.parallel_seed


def test_random_seed_is_recorded(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.respond(judge_reply(lambda pairs: '{"choice": "B", "reason": "second"}'), model=JUDGE_MODEL,
                          path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(QUESTION, mode="parallel").record

    order = list(range(len(MODELS)))
    random.Random(record.parallel_seed).shuffle(order)
    (request,) = judge_requests(fake_provider)
    by_answer = {text: model for model, text in ANSWERS.items()}
    assert [by_answer[text] for _, text in shown(request.body)] == [MODELS[i] for i in order]
    assert record.final_model == MODELS[order[1]]


@pytest.mark.parametrize("output", ["I like the second one best.", '{"choice": "D", "reason": "no such label"}',
                                    '{"choice": "gpt-4o"}', ""])
def test_unrecognised_choice_falls_back(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                        output: str) -> None:
    script_candidates(fake_provider)
    fake_provider.reply(output, model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask(QUESTION, mode="parallel")

    record = answer.record
    assert answer.model == TOP
    assert answer.text == ANSWERS[TOP]
    assert record.fallback is True
    assert record.fallback_reason is FallbackReason.CHOICE_UNRECOGNISED
    assert record.choice_reason is ChoiceReason.UNRECOGNISED
    (choice,) = record.judge_choices
    assert choice.raw == output
    assert choice.label is None
    assert choice.model is None


def test_judge_failure_falls_back(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.fault(Fault.server_error(500), model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(QUESTION, mode="parallel").record

    assert record.final_model == TOP
    assert record.fallback_reason is FallbackReason.JUDGE_FAILED
    assert record.choice_reason is ChoiceReason.JUDGE_FAILED
    assert "500" in (record.judge_choices[0].error or "")
    assert record.stages[-1].stage is Stage.JUDGE
    assert record.stages[-1].cost_usd is None


def test_failed_candidate_excluded(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.fault(Fault.server_error(503), model=TOP, path=OPENAI_PATH)
    fake_provider.reply("no idea", model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    answer = router.ask(QUESTION, mode="parallel")

    record = answer.record
    (excluded,) = record.excluded
    assert excluded.model == TOP
    assert "503" in excluded.reason
    (request,) = judge_requests(fake_provider)
    assert sorted(text for _, text in shown(request.body)) == sorted([ANSWERS[CHEAP], ANSWERS[MID]])
    assert [c.model for c in record.candidates] == record.judge_choices[0].order
    assert TOP not in record.judge_choices[0].order
    # The strongest candidate that answered is the default.
    assert answer.model == MID


def test_slow_and_empty_candidates_excluded(fake_provider: FakeProvider, tmp_path: Path,
                                            shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.fault(Fault(status=200, delay_s=3.0), model=WIRE[CHEAP], path=GROQ_PATH)
    fake_provider.fault(Fault.empty_content(), model=WIRE[MID], path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, weak_timeout=0.5)

    answer = router.ask(QUESTION, mode="parallel")

    record = answer.record
    reasons = {item.model: item.reason for item in record.excluded}
    assert set(reasons) == {CHEAP, MID}
    assert "Timeout" in reasons[CHEAP]
    assert reasons[MID] == "the answer is empty"
    assert answer.model == TOP
    assert record.choice_reason is ChoiceReason.ONLY_CANDIDATE
    assert judge_requests(fake_provider) == []


def test_all_candidates_fail(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.fault(Fault.server_error(503))

    with pytest.raises(ProviderError) as caught:
        make_router(fake_provider, tmp_path, shipped_predictor).ask(QUESTION, mode="parallel")

    message = str(caught.value)
    assert "all 3 parallel candidates failed" in message
    for model in MODELS:
        assert model in message
    (logged,) = list(read_records(tmp_path / "decisions.jsonl"))
    assert {item.model for item in logged.excluded} == set(MODELS)
    assert logged.final_model is None
    assert judge_requests(fake_provider) == []


def test_cost_sums_candidates_and_judge(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.respond(judge_reply(lambda pairs: '{"choice": "%s"}' % label_of(pairs, "Paris.")),
                          model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(QUESTION, mode="parallel").record

    (request,) = judge_requests(fake_provider)
    judge_prompt = sum(words(m["content"]) for m in request.body["messages"])
    judge_output = words('{"choice": "%s"}' % label_of(shown(request.body), "Paris."))
    expected = sum(price(model, words(QUESTION), words(ANSWERS[model])) for model in MODELS)
    expected += price("groq/" + JUDGE_MODEL, judge_prompt, judge_output)
    assert record.total_cost_usd == pytest.approx(expected)
    assert record.strong_only_cost_usd == pytest.approx(price(TOP, words(QUESTION), words(ANSWERS[TOP])))
    assert sorted(s.stage for s in record.stages).count(Stage.CANDIDATE) == 3


def test_candidates_run_concurrently(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.fault(Fault(status=200, delay_s=1.0))
    fake_provider.reply('{"choice": "A"}', model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor)

    record = router.ask(QUESTION, mode="parallel").record

    candidate_latency = [s.latency_ms for s in record.stages if s.stage is Stage.CANDIDATE]
    assert min(candidate_latency) >= 1000
    # Run one after another, three calls and the judge would take at least 4 s.
    assert record.latency_ms < 3500


def test_swap_disagreement_picks_stronger(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    # A judge with full position bias always names the first candidate shown.
    fake_provider.reply('{"choice": "A", "reason": "first"}', model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, parallel_swap=True)

    record = router.ask(QUESTION, mode="parallel").record

    first, second = judge_requests(fake_provider)
    by_answer = {text: model for model, text in ANSWERS.items()}
    order_one = [by_answer[text] for _, text in shown(first.body)]
    order_two = [by_answer[text] for _, text in shown(second.body)]
    assert sorted([order_one, order_two]) == sorted([order_two[::-1], order_one[::-1]])
    picks = {order_one[0], order_two[0]}
    assert len(picks) == 2
    assert record.choice_reason is ChoiceReason.PASSES_DISAGREED
    assert record.final_model == max(picks, key=MODELS.index)
    assert [c.model for c in record.judge_choices] == [record.judge_choices[0].order[0], record.judge_choices[1].order[0]]


def test_swap_agreement_keeps_pick(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.respond(judge_reply(lambda pairs: '{"choice": "%s"}' % label_of(pairs, "Lyon.")),
                          model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, parallel_swap=True)

    record = router.ask(QUESTION, mode="parallel").record

    assert len(judge_requests(fake_provider)) == 2
    assert record.choice_reason is ChoiceReason.JUDGE
    assert record.final_model == CHEAP
    assert [c.model for c in record.judge_choices] == [CHEAP, CHEAP]


def test_pt_br_prompt_and_hash_policy(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    script_candidates(fake_provider)
    fake_provider.reply('{"choice": "A"}', model=JUDGE_MODEL, path=GROQ_PATH)
    router = make_router(fake_provider, tmp_path, shipped_predictor, judge_language="pt-BR", log_prompts="hash")

    record = router.ask(QUESTION, mode="parallel").record

    (request,) = judge_requests(fake_provider)
    assert "Escolha a única resposta" in request.body["messages"][0]["content"]
    assert record.judge_choices[0].raw is None
    assert record.judge_choices[0].label == "A"
    assert '{"choice": "A"}' not in (tmp_path / "decisions.jsonl").read_text()


@pytest.mark.parametrize("raw, label", [("B", "B"), ("  b\n", "B"), ("[C]", "C"), ('{"choice": "a."}', "A"),
                                        ('{"choice": "Resposta C", "reason": "ok"}', "C"),
                                        ('{"choice": "B) Paris"}', None), ('{"choice": 2}', None),
                                        ('["B"]', None), ("The answer is B", None), (None, None)])
def test_parse_choice_table(raw: str | None, label: str | None) -> None:
    assert parse_choice(raw, "ABC").label == label
