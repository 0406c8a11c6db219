"""`hybrid eval` end to end on MT-Bench: the table, the JSON document and the chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybrid.cli import main
from hybrid.evaluation.datasets import load_eval_sets
from hybrid.metrics import router_apgr

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROUTELLM = SHARED / "routellm-evals"
needs_data = pytest.mark.skipif(not ROUTELLM.is_dir(), reason="RouteLLM eval data not found next to the repository")


@needs_data
def test_eval_writes_table_json_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          shipped_predictor: object) -> None:
    output = tmp_path / "new folder" / "eval.json"
    chart = tmp_path / "eval.png"

    status = main(["eval", "--data", str(ROUTELLM), "--benchmark", "mt_bench", "--router", "mf-wordllama-length",
                   "--router", "mf-wordllama", "--resamples", "100", "--json-out", str(output), "--plot", str(chart)])
    table = capsys.readouterr().out
    document = json.loads(output.read_text())

    assert status == 0
    assert chart.stat().st_size > 10_000
    assert "Published RouteLLM `mf` APGR" in table
    assert "arXiv:2406.18665" in table

    [benchmark] = document["benchmarks"]
    methods = {method["method"]: method for method in benchmark["methods"]}
    assert list(methods) == ["random", "mf-wordllama-length", "mf-wordllama", "hybrid (mf-wordllama-length)", "oracle"]
    assert benchmark["prompts"] == 72
    assert benchmark["cost_source"] == "configured model prices"

    mt_bench = load_eval_sets(ROUTELLM, None, ["mt_bench"])[0]
    expected = router_apgr(shipped_predictor.win_rates(mt_bench.prompts), mt_bench.strong_quality, mt_bench.weak_quality)
    apgr = methods["mf-wordllama-length"]["metrics"]["apgr"]
    assert apgr["value"] == pytest.approx(expected)
    assert apgr["low"] < apgr["value"] < apgr["high"]
    assert methods["oracle"]["metrics"]["apgr"]["value"] > apgr["value"]
    for name, method in methods.items():
        assert set(method["metrics"]["cpt_share"]) == {"0.5", "0.8"}, name
        assert method["metrics"]["cpt_cost_usd"] is not None, name
    assert document["published_routellm_mf"]["apgr"][0] == {"benchmark": "mt_bench", "apgr": 0.802,
                                                             "note": "same 72 decontaminated turn-1 questions"}


@needs_data
def test_eval_json_flag_prints_document(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["eval", "--data", str(ROUTELLM), "--benchmark", "mt_bench", "--router", "mf-wordllama-length",
                   "--no-hybrid", "--resamples", "20", "--json", "--json-out", "", "--plot", ""])
    document = json.loads(capsys.readouterr().out)

    assert status == 0
    assert [method["method"] for method in document["benchmarks"][0]["methods"]] == ["random", "mf-wordllama-length",
                                                                                     "oracle"]
    assert document["context"]["routers"]["mf-wordllama-length"]["embedder"] == "wordllama"


def test_routerbench_benchmark_needs_folder(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["eval", "--data", str(ROUTELLM), "--benchmark", "routerbench_mbpp"])

    assert status == 2
    assert "--routerbench PATH" in capsys.readouterr().err


@pytest.mark.parametrize(("arguments", "message"), [
    (["--judge-false-accept", "2"], "false-accept rate 2.0 is outside [0, 1]"),
    (["--resamples", "0"], "--resamples 0 must be at least 1"),
    (["--benchmark", "hellaswag"], "unknown benchmark 'hellaswag'"),
    (["--mt-bench-cut", "11"], "--mt-bench-cut 11.0 is outside 1-10"),
])
def test_bad_eval_arguments_named(capsys: pytest.CaptureFixture[str], arguments: list[str], message: str) -> None:
    status = main(["eval", "--data", str(ROUTELLM), *arguments])

    assert status == 2
    assert message in capsys.readouterr().err


@needs_data
def test_eval_without_mmlu_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "evals"
    data.mkdir()
    for folder in ("gsm8k", "mt_bench"):
        (data / folder).symlink_to(ROUTELLM / folder)

    status = main(["eval", "--data", str(data), "--benchmark", "mt_bench", "--router", "mf-wordllama", "--no-hybrid",
                   "--no-modes", "--resamples", "50", "--json-out", "", "--plot", "", "--json"])
    document = json.loads(capsys.readouterr().out)

    assert status == 0
    assert [benchmark["benchmark"] for benchmark in document["benchmarks"]] == ["mt_bench"]
