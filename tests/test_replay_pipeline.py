"""The whole pipeline replayed on recorded real answers, checked against counts computed here from the raw files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import litellm
import numpy as np
import pytest

from hybrid.cli import main
from hybrid.replay.backends import JudgePolicy
from hybrid.replay.demo import run_demo
from hybrid.settings import load_settings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "routellm-evals"
STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"recorded data not found at {DATA}")


def gsm8k_rows() -> list[dict[str, str]]:
    contaminated = {json.loads(line)["eval_prompt"] for line in (DATA / "gsm8k" / "contaminated_prompts.jsonl").open()}
    with (DATA / "gsm8k" / "gsm8k_responses.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["prompt"] not in contaminated]


def expected_policies(win_rates: np.ndarray, strong_ok: np.ndarray, weak_ok: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """What each policy must score when the replay judge accepts exactly the correct weak answers."""
    strong_route = win_rates >= threshold
    escalated = strong_route | ~weak_ok
    return {
        "always-weak": {"strong_share": 0.0, "quality": weak_ok.mean(), "fallback_rate": 0.0},
        "always-strong": {"strong_share": 1.0, "quality": strong_ok.mean(), "fallback_rate": 0.0},
        "router-only": {"strong_share": strong_route.mean(),
                        "quality": np.where(strong_route, strong_ok, weak_ok).mean(), "fallback_rate": 0.0},
        "hybrid": {"strong_share": escalated.mean(), "quality": np.where(escalated, strong_ok, weak_ok).mean(),
                   "fallback_rate": (~strong_route & ~weak_ok).mean(),
                   "accept_rate": weak_ok[~strong_route].mean()},
    }


def test_gsm8k_replay_matches_labels(shipped_predictor: object, tmp_path: Path) -> None:
    rows = gsm8k_rows()
    prompts = [row["prompt"] for row in rows]
    strong_ok = np.array([row[STRONG] == "True" for row in rows])
    weak_ok = np.array([row[WEAK] == "True" for row in rows])
    win_rates = shipped_predictor.win_rates(prompts)
    threshold = float(np.quantile(win_rates, 0.6))

    results = run_demo(load_settings(), DATA, benchmarks=("gsm8k",), threshold=threshold,
                       log_path=tmp_path / "log.jsonl", progress=False, predictor=shipped_predictor)

    by_policy = {result.policy: result for result in results}
    for policy, expected in expected_policies(win_rates, strong_ok, weak_ok, threshold).items():
        result = by_policy[policy]
        assert result.prompts == len(rows) == 1307
        for field, value in expected.items():
            assert getattr(result, field) == pytest.approx(value), (policy, field)

    strong_cost = sum(
        litellm.cost_per_token(model="gpt-4o", prompt_tokens=litellm.token_counter(model="gpt-4o", text=row["prompt"]),
                               completion_tokens=litellm.token_counter(model="gpt-4o", text=row[f"{STRONG}_response"]))[0]
        + litellm.cost_per_token(model="gpt-4o", prompt_tokens=litellm.token_counter(model="gpt-4o", text=row["prompt"]),
                                 completion_tokens=litellm.token_counter(model="gpt-4o", text=row[f"{STRONG}_response"]))[1]
        for row in rows
    )
    assert by_policy["always-strong"].cost_usd == pytest.approx(strong_cost, rel=1e-9)
    assert by_policy["hybrid"].cost_usd < by_policy["always-strong"].cost_usd
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 4 * len(rows)


def test_mt_bench_replay_uses_score_cut(shipped_predictor: object) -> None:
    questions = {json.loads(line)["question_id"]: json.loads(line) for line in (DATA / "mt_bench" / "question.jsonl").open()}
    contaminated = {json.loads(line)["eval_prompt"] for line in (DATA / "mt_bench" / "contaminated_prompts.jsonl").open()}
    scores: dict[tuple[int, str], float] = {}
    for line in (DATA / "mt_bench" / "judgements.jsonl").open():
        judgement = json.loads(line)
        if judgement["turn"] == 1:
            scores[(judgement["question_id"], judgement["model"])] = float(judgement["score"])
    kept = [qid for qid, question in questions.items() if question["turns"][0] not in contaminated]
    models = sorted({model for _, model in scores})
    strong_name = next(model for model in models if "gpt-4" in model)
    weak_name = next(model for model in models if "ixtral" in model)
    strong_score = np.array([scores[(qid, strong_name)] for qid in kept])
    weak_score = np.array([scores[(qid, weak_name)] for qid in kept])
    win_rates = shipped_predictor.win_rates([questions[qid]["turns"][0] for qid in kept])
    threshold = float(np.median(win_rates))

    results = run_demo(load_settings(), DATA, benchmarks=("mt-bench",), threshold=threshold,
                       policy=JudgePolicy(mt_bench_cut=9.0), progress=False, predictor=shipped_predictor)

    hybrid = next(result for result in results if result.policy == "hybrid")
    strong_route = win_rates >= threshold
    escalated = strong_route | (weak_score < 9.0)
    assert hybrid.prompts == len(kept) == 72
    assert hybrid.strong_share == pytest.approx(escalated.mean())
    assert hybrid.quality == pytest.approx(np.where(escalated, strong_score, weak_score).mean())
    assert hybrid.accept_rate == pytest.approx((weak_score[~strong_route] >= 9.0).mean())


def test_judge_errors_shift_results(shipped_predictor: object) -> None:
    exact = run_demo(load_settings(), DATA, benchmarks=("mt-bench",), threshold=1.0, progress=False, predictor=shipped_predictor)
    noisy = run_demo(load_settings(), DATA, benchmarks=("mt-bench",), threshold=1.0,
                     policy=JudgePolicy(false_accept=1.0), progress=False, predictor=shipped_predictor)

    exact_hybrid = next(result for result in exact if result.policy == "hybrid")
    noisy_hybrid = next(result for result in noisy if result.policy == "hybrid")
    weak_only = next(result for result in exact if result.policy == "always-weak")
    assert noisy_hybrid.accept_rate == 1.0
    assert noisy_hybrid.quality == pytest.approx(weak_only.quality)
    assert exact_hybrid.accept_rate < 1.0


def test_cli_ask_replay_hit_and_miss(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    prompt = gsm8k_rows()[0]["prompt"]

    status = main(["ask", "--replay", str(DATA), "--mode", "strong", "--json", prompt])

    record = json.loads(capsys.readouterr().out)
    assert status == 0
    assert record["final_model"] == "gpt-4o"
    assert record["answer"] == gsm8k_rows()[0][f"{STRONG}_response"]
    assert (tmp_path / "hybrid-decisions.jsonl").exists()

    status = main(["ask", "--replay", str(DATA), "--mode", "strong", prompt])
    text = capsys.readouterr().out

    assert status == 0
    assert text.startswith(gsm8k_rows()[0][f"{STRONG}_response"])
    assert "model: gpt-4o" in text
    assert "recorded from GPT-4-1106 (strong) or Mixtral-8x7B (weak)" in text
    stage = record["stages"][0]
    assert f"calls: 1  tokens: {stage['prompt_tokens']} in, {stage['completion_tokens']} out" in text
    assert f"cost: ${record['total_cost_usd']:.6f}" in text
    assert " ms  request: " in text

    status = main(["ask", "--replay", str(DATA), "What is the meaning of life?"])

    assert status == 1
    assert "not in the recording" in capsys.readouterr().err


def test_cli_demo_json_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"

    status = main(["demo", "--data", str(DATA), "--benchmark", "mt-bench", "--json", "--plot", str(chart)])

    results = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [row["policy"] for row in results] == ["always-weak", "always-strong", "router-only", "hybrid"]
    assert {"strong_share", "accept_rate", "fallback_rate", "quality", "cost_usd"} <= set(results[0])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_route_json(capsys: pytest.CaptureFixture[str], shipped_predictor: object) -> None:
    status = main(["route", "--json", "--threshold", "0.5", "Prove Fermat's last theorem."])

    decision = json.loads(capsys.readouterr().out)
    assert status == 0
    assert decision["win_rate"] == pytest.approx(float(shipped_predictor.win_rates(["Prove Fermat's last theorem."])[0]))
    assert decision["route"] == ("strong" if decision["win_rate"] >= 0.5 else "weak")


def test_cli_bad_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["route", "--threshold", "1.5", "hello"])

    assert status == 1
    assert "1.5" in capsys.readouterr().err
