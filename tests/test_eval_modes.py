"""`hybrid eval`'s cascade and parallel points, checked against figures computed here from the recorded CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hybrid.cli import main
from hybrid.settings import load_settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROUTELLM = SHARED / "routellm-evals"
ROUTERBENCH = SHARED / "routerbench-0shot"
needs_data = pytest.mark.skipif(not ROUTELLM.is_dir(), reason="RouteLLM eval data not found next to the repository")
needs_routerbench = pytest.mark.skipif(not ROUTERBENCH.is_dir(),
                                       reason="RouterBench 0-shot data not found next to the repository")

WEAK_COLUMN = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_COLUMN = "gpt-4-1106-preview"
FAST_GSM8K = ["eval", "--data", str(ROUTELLM), "--benchmark", "gsm8k", "--router", "mf-wordllama-length",
              "--no-hybrid", "--resamples", "20", "--json-out", "", "--plot", ""]


def expected_gsm8k_cascade() -> tuple[int, float, float]:
    """Return the prompt count, cascade accuracy and strong-call share of decontaminated GSM8K."""
    contaminated = set()
    with (ROUTELLM / "gsm8k" / "contaminated_prompts.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                contaminated.add(json.loads(line)["eval_prompt"])

    correct = []
    strong_calls = []
    with (ROUTELLM / "gsm8k" / "gsm8k_responses.csv").open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            if row["prompt"] in contaminated:
                continue
            weak_correct = row[WEAK_COLUMN] == "True"
            strong_correct = row[STRONG_COLUMN] == "True"
            correct.append(weak_correct or strong_correct)
            strong_calls.append(not weak_correct)
    return len(correct), sum(correct) / len(correct), sum(strong_calls) / len(strong_calls)


def run_json(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> dict[str, object]:
    status = main([*arguments, "--json"])
    assert status == 0
    return json.loads(capsys.readouterr().out)


@needs_data
def test_gsm8k_cascade_point_matches_csv(capsys: pytest.CaptureFixture[str]) -> None:
    prompts, quality, strong_share = expected_gsm8k_cascade()
    settings = load_settings()

    document = run_json(capsys, FAST_GSM8K)

    [mode_set] = document["modes"]
    assert mode_set["benchmark"] == "gsm8k"
    assert mode_set["prompts"] == prompts == document["benchmarks"][0]["prompts"]
    [point] = mode_set["points"]
    assert point["method"] == "cascade"
    assert point["quality"] == pytest.approx(quality)
    assert point["strong_share"] == pytest.approx(strong_share)
    assert point["call_share"] == pytest.approx({settings.weak_model: 1.0, settings.strong_model: strong_share})
    assert "apgr" not in point


@needs_data
def test_gsm8k_cascade_cost_between_tiers(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(capsys, FAST_GSM8K)

    [mode_set] = document["modes"]
    [point] = mode_set["points"]
    assert mode_set["weak_cost_per_1k_usd"] < point["cost_per_1k_usd"] < mode_set["strong_cost_per_1k_usd"]
    assert point["cost_per_prompt_usd"] * 1000 == pytest.approx(point["cost_per_1k_usd"])


@needs_data
def test_table_marks_point_rows(capsys: pytest.CaptureFixture[str]) -> None:
    _, quality, _ = expected_gsm8k_cascade()

    status = main(FAST_GSM8K)
    table = capsys.readouterr().out

    assert status == 0
    [row] = [line for line in table.splitlines() if line.startswith("cascade (point)")]
    # The APGR and CPT columns of a point row are blank, not zero.
    assert row[len("cascade (point)"):].lstrip().startswith(f"quality {quality:.3f},")
    assert "0.000 " not in row
    assert "APGR and CPT are left empty" in table


@needs_data
def test_no_modes_flag_skips_points(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(capsys, [*FAST_GSM8K, "--no-modes"])

    assert document["modes"] == []


@needs_routerbench
def test_routerbench_modes_have_cascade_and_parallel(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chart = tmp_path / "eval.png"
    arguments = ["eval", "--routerbench", str(ROUTERBENCH), "--benchmark", "routerbench_mbpp", "--router",
                 "mf-wordllama-length", "--no-hybrid", "--resamples", "20", "--json-out", "", "--plot", str(chart)]

    document = run_json(capsys, arguments)

    [mode_set] = document["modes"]
    points = {point["method"]: point for point in mode_set["points"]}
    assert mode_set["benchmark"] == "routerbench"
    assert list(points) == ["cascade", "parallel"]
    assert points["parallel"]["strong_share"] == 1.0
    assert set(points["parallel"]["call_share"].values()) == {1.0}
    assert points["cascade"]["cost_per_1k_usd"] < points["parallel"]["cost_per_1k_usd"]
    assert chart.stat().st_size > 10_000
