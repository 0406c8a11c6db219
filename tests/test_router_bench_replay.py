"""Cascade and parallel modes replayed on recorded answers, checked against values computed here from the raw files."""

from __future__ import annotations

import ast
import csv
import json
from collections import Counter
from pathlib import Path

import litellm
import pytest

from hybrid.cli import main
from hybrid.decision_log import read_records
from hybrid.record import Mode, Stage
from hybrid.replay.demo import run_demo
from hybrid.settings import load_settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ROUTELLM = SHARED / "routellm-evals"
ROUTERBENCH = SHARED / "routerbench-0shot"
GPT4_RECORDED = "gpt-4-1106-preview"
MIXTRAL_RECORDED = "mistralai/Mixtral-8x7B-Instruct-v0.1"
CHEAP, MID, TOP = "mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview"
FILES = ("arc_challenge_test.csv", "mbpp_test.csv", "winograde_test.csv")

needs_routerbench = pytest.mark.skipif(not ROUTERBENCH.is_dir(), reason=f"recorded data not found at {ROUTERBENCH}")
needs_routellm = pytest.mark.skipif(not ROUTELLM.is_dir(), reason=f"recorded data not found at {ROUTELLM}")


def routerbench_rows() -> list[dict[str, object]]:
    """The test split's rows that label all three models, with decoded prompt and answers."""
    csv.field_size_limit(2**31 - 1)
    rows = []
    for name in FILES:
        with (ROUTERBENCH / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if any(row[model] == "" for model in (CHEAP, MID, TOP)):
                    continue
                rows.append({
                    "prompt": "\n\n".join(ast.literal_eval(row["prompt"])),
                    "correct": {model: float(row[model]) == 1.0 for model in (CHEAP, MID, TOP)},
                    "cost": {model: float(row[f"{model}|total_cost"]) for model in (CHEAP, MID, TOP)},
                    "answer": {model: "\n\n".join(ast.literal_eval(row[f"{model}|model_response"]))
                               for model in (CHEAP, MID, TOP)},
                })
    return rows


def gsm8k_rows() -> list[dict[str, str]]:
    contaminated = {json.loads(line)["eval_prompt"] for line in (ROUTELLM / "gsm8k" / "contaminated_prompts.jsonl").open()}
    with (ROUTELLM / "gsm8k" / "gsm8k_responses.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["prompt"] not in contaminated]


def priced(model: str, prompt: str, answer: str) -> float:
    prompt_cost, answer_cost = litellm.cost_per_token(model=model,
                                                      prompt_tokens=litellm.token_counter(model=model, text=prompt),
                                                      completion_tokens=litellm.token_counter(model=model, text=answer))
    return prompt_cost + answer_cost


def answer_cost(records: list[object]) -> float:
    return sum(stage.cost_usd for record in records for stage in record.stages if stage.stage is not Stage.JUDGE)


def judge_calls(records: list[object]) -> int:
    return sum(stage.stage is Stage.JUDGE for record in records for stage in record.stages)


@needs_routerbench
def test_routerbench_cascade_and_parallel(tmp_path: Path) -> None:
    rows = routerbench_rows()
    log = tmp_path / "log.jsonl"

    results = run_demo(load_settings(), Path(), benchmarks=(), routerbench_dir=ROUTERBENCH, log_path=log)

    by_policy = {result.policy: result for result in results}
    assert list(by_policy) == ["always-weak", "always-strong", "cascade", "parallel"]
    assert {result.benchmark for result in results} == {"routerbench"}
    records = list(read_records(log))
    cascade = [record for record in records if record.mode is Mode.CASCADE]
    parallel = [record for record in records if record.mode is Mode.PARALLEL]
    count = len(rows)
    assert count == 947
    assert len(cascade) == len(parallel) == count

    # Cascade: the first correct tier answers; the last tier answers unjudged when both cheaper tiers are wrong.
    cheap_ok = [row["correct"][CHEAP] for row in rows]
    mid_ok = [row["correct"][MID] for row in rows]
    quality = []
    cost = 0.0
    for row, cheap, mid in zip(rows, cheap_ok, mid_ok):
        cost += row["cost"][CHEAP]
        if cheap:
            quality.append(1.0)
            continue
        cost += row["cost"][MID]
        if mid:
            quality.append(1.0)
            continue
        cost += row["cost"][TOP]
        quality.append(float(row["correct"][TOP]))
    result = by_policy["cascade"]
    assert result.prompts == count
    assert result.quality == pytest.approx(sum(quality) / count)
    assert answer_cost(cascade) == pytest.approx(cost, rel=1e-9)
    assert judge_calls(cascade) == sum(1 if c else 2 for c in cheap_ok)
    assert result.cost_usd == pytest.approx(sum(record.total_cost_usd for record in cascade))
    assert result.cost_usd > cost
    assert result.call_share == pytest.approx({CHEAP: 1.0, MID: 1 - sum(cheap_ok) / count,
                                               TOP: sum(not c and not m for c, m in zip(cheap_ok, mid_ok)) / count})

    # Parallel: every model answers, and the judge picks a correct answer whenever one exists.
    any_ok = [any(row["correct"].values()) for row in rows]
    result = by_policy["parallel"]
    assert result.quality == pytest.approx(sum(any_ok) / count)
    assert answer_cost(parallel) == pytest.approx(sum(sum(row["cost"].values()) for row in rows), rel=1e-9)
    assert judge_calls(parallel) == count
    assert result.call_share == {CHEAP: 1.0, MID: 1.0, TOP: 1.0}
    assert sum(result.answer_share.values()) == pytest.approx(1.0)
    assert result.fallback_rate == 0.0
    by_prompt = {record.prompt: record for record in parallel}
    for row in rows:
        record = by_prompt[row["prompt"]]
        if any(row["correct"].values()):
            assert row["correct"][record.final_model], row["prompt"][-200:]
        elif row["answer"][TOP].strip() not in (row["answer"][CHEAP].strip(), row["answer"][MID].strip()):
            assert record.final_model == TOP

    # The single-model rows bill exactly the recorded costs.
    assert by_policy["always-strong"].cost_usd == pytest.approx(sum(row["cost"][TOP] for row in rows), rel=1e-9)
    assert by_policy["always-weak"].quality == pytest.approx(sum(mid_ok) / count)


@needs_routerbench
def test_routerbench_parallel_ties_are_seeded(tmp_path: Path) -> None:
    first = run_demo(load_settings(), Path(), benchmarks=(), routerbench_dir=ROUTERBENCH, log_path=tmp_path / "a")
    again = run_demo(load_settings(), Path(), benchmarks=(), routerbench_dir=ROUTERBENCH, log_path=tmp_path / "b")
    other = run_demo(load_settings(), Path(), benchmarks=(), routerbench_dir=ROUTERBENCH, log_path=tmp_path / "c",
                     seed=5)

    def picks(path: Path) -> dict[str | None, str | None]:
        return {r.prompt: r.final_model for r in read_records(path) if r.mode is Mode.PARALLEL}

    assert picks(tmp_path / "a") == picks(tmp_path / "b")
    assert picks(tmp_path / "a") != picks(tmp_path / "c")
    parallel = [result for result in (*first, *again, *other) if result.policy == "parallel"]
    assert len({result.quality for result in parallel}) == 1


@needs_routerbench
def test_routerbench_budget_uses_recorded_costs(tmp_path: Path, shipped_predictor: object) -> None:
    from hybrid.replay import router_bench

    rows = routerbench_rows()
    row = next(row for row in rows if not row["correct"][CHEAP] and not row["correct"][MID])
    # Room for the two cheap tiers and their judge calls, but not for GPT-4's recorded cost.
    budget = row["cost"][CHEAP] + row["cost"][MID] + row["cost"][TOP] / 2
    settings = load_settings(cascade_budget_usd=budget, log_path=tmp_path / "log.jsonl")
    items = router_bench.load_routerbench(ROUTERBENCH, models=[CHEAP, MID, TOP])
    router = router_bench.routerbench_router(settings, router_bench.RouterBenchRecording(items),
                                            predictor=shipped_predictor)

    answer = router.ask(row["prompt"], mode="cascade")

    record = answer.record
    assert record.budget_stopped is True
    assert record.budget_stop.model == TOP
    assert record.budget_stop.estimated_cost_usd == pytest.approx(row["cost"][TOP])
    assert answer.model == MID
    assert answer.text == row["answer"][MID]


@needs_routerbench
def test_cli_ask_routerbench_parallel(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    row = next(row for row in routerbench_rows() if sum(row["correct"].values()) == 1)
    (correct_model,) = [model for model, ok in row["correct"].items() if ok]

    status = main(["ask", "--replay", str(ROUTERBENCH), "--mode", "parallel", "--json", row["prompt"]])

    record = json.loads(capsys.readouterr().out)
    assert status == 0
    assert record["final_model"] == correct_model
    assert record["answer"] == row["answer"][correct_model]
    assert record["choice_reason"] == "judge"
    assert sorted(c["model"] for c in record["candidates"]) == sorted([CHEAP, MID, TOP])


@needs_routellm
def test_gsm8k_two_tier_cascade(tmp_path: Path, shipped_predictor: object) -> None:
    rows = gsm8k_rows()
    weak_ok = [row[MIXTRAL_RECORDED] == "True" for row in rows]
    strong_ok = [row[GPT4_RECORDED] == "True" for row in rows]
    settings = load_settings()
    log = tmp_path / "log.jsonl"

    results = run_demo(settings, ROUTELLM, benchmarks=("gsm8k",), threshold=0.5, cascade=True, log_path=log,
                       progress=False, predictor=shipped_predictor)

    cascade = next(result for result in results if result.policy == "cascade")
    records = [record for record in read_records(log) if record.mode is Mode.CASCADE]
    count = len(rows)
    assert [result.policy for result in results] == ["always-weak", "always-strong", "router-only", "hybrid", "cascade"]
    assert cascade.prompts == len(records) == count == 1307
    assert cascade.quality == pytest.approx(sum(1.0 if w else float(s) for w, s in zip(weak_ok, strong_ok)) / count)
    assert cascade.strong_share == pytest.approx(sum(not w for w in weak_ok) / count)
    assert cascade.accept_rate == pytest.approx(sum(weak_ok) / count)
    assert cascade.fallback_rate == pytest.approx(sum(not w for w in weak_ok) / count)
    assert judge_calls(records) == count

    expected = sum(
        priced(settings.weak_model, row["prompt"], row[f"{MIXTRAL_RECORDED}_response"])
        + (0.0 if ok else priced(settings.strong_model, row["prompt"], row[f"{GPT4_RECORDED}_response"]))
        for row, ok in zip(rows, weak_ok)
    )
    assert answer_cost(records) == pytest.approx(expected, rel=1e-9)
    assert cascade.cost_usd == pytest.approx(sum(record.total_cost_usd for record in records))
    assert Counter(record.final_model for record in records) == Counter(
        settings.weak_model if ok else settings.strong_model for ok in weak_ok)


@needs_routellm
def test_cli_ask_routellm_cascade(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    row = next(row for row in gsm8k_rows() if row[MIXTRAL_RECORDED] == "False")

    status = main(["ask", "--replay", str(ROUTELLM), "--mode", "cascade", "--json", row["prompt"]])

    record = json.loads(capsys.readouterr().out)
    assert status == 0
    assert record["answer"] == row[f"{GPT4_RECORDED}_response"]
    assert [stage["stage"] for stage in record["stages"]] == ["tier", "judge", "tier"]
    assert record["stages"][0]["verdict"] == "reject"

    status = main(["ask", "--replay", str(ROUTELLM), "--mode", "parallel", row["prompt"]])

    assert status == 1
    assert "HYBRID_PARALLEL_MODELS" in capsys.readouterr().err


@needs_routerbench
def test_cli_demo_routerbench_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["demo", "--routerbench", str(ROUTERBENCH), "--benchmark", "routerbench", "--json", "--plot",
                   str(tmp_path / "chart.png")])

    results = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [row["policy"] for row in results] == ["always-weak", "always-strong", "cascade", "parallel"]
    assert all({"call_share", "answer_share", "quality", "cost_usd"} <= set(row) for row in results)
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    status = main(["demo", "--benchmark", "routerbench"])

    assert status == 2
    assert "--routerbench" in capsys.readouterr().err


@needs_routerbench
def test_lookup_accepts_csv_list_literal() -> None:
    from hybrid.errors import ReplayMissError
    from hybrid.replay.router_bench import RouterBenchRecording, load_routerbench

    recording = RouterBenchRecording(load_routerbench(ROUTERBENCH, benchmarks=["mbpp"]))
    csv.field_size_limit(2**31 - 1)
    with (ROUTERBENCH / "mbpp_test.csv").open(newline="", encoding="utf-8") as handle:
        cell = next(csv.DictReader(handle))["prompt"]

    assert cell.startswith("[")
    assert recording.lookup(cell).prompt == "\n\n".join(ast.literal_eval(cell))
    with pytest.raises(ReplayMissError):
        recording.lookup("['a prompt that was never recorded']")
