"""`hybrid calibrate`: reading prompt, label and decision-log files, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hybrid.calibration_data import read_calibration_file
from hybrid.cli import main
from hybrid.errors import InputError
from hybrid.record import DecisionRecord, Mode


def decision_line(win_rate: float | None, mode: Mode = Mode.HYBRID) -> str:
    record = DecisionRecord(request_id="r", started_at="2024-01-01T00:00:00Z", finished_at="2024-01-01T00:00:01Z",
                            latency_ms=1.0, mode=mode, win_rate=win_rate, threshold=0.5)
    return record.model_dump_json()


def test_decision_log_rescored_without_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "decisions.jsonl"
    rates = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    log.write_text("\n".join([*(decision_line(rate) for rate in rates), decision_line(None, Mode.STRONG)]) + "\n")

    status = main(["calibrate", "--prompts", str(log), "--strong-pct", "0.25", "--threshold", "0.5", "--json"])
    result = json.loads(capsys.readouterr().out)

    assert status == 0
    assert result["prompts"] == 8
    assert result["skipped_records"] == 1
    assert result["win_rates_from"] == "file"
    assert result["threshold_for_strong_pct"] == 0.7  # 0.7 and 0.8 reach it: 2 of 8
    assert result["strong_share_at_threshold"] == 0.5


def test_prompts_scored_with_shipped_router(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            shipped_predictor: object) -> None:
    prompts = ["What is 2 + 2?", "Prove Fermat's last theorem for n = 3.", "Say hi.", "Write a haiku about rain."]
    source = tmp_path / "prompts.csv"
    source.write_text("prompt\n" + "\n".join(f'"{prompt}"' for prompt in prompts) + "\n")

    status = main(["calibrate", "--prompts", str(source), "--strong-pct", "0.5", "--json"])
    result = json.loads(capsys.readouterr().out)

    rates = np.sort(shipped_predictor.win_rates(prompts))[::-1]
    assert status == 0
    assert result["win_rates_from"] == "router"
    assert result["threshold_for_strong_pct"] == pytest.approx(rates[1])


def test_labels_give_router_and_hybrid_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"win_rate": 0.9, "strong_quality": True, "weak_quality": False, "judge_score": 2},
        {"win_rate": 0.7, "strong_quality": True, "weak_quality": True, "judge_score": 9},
        {"win_rate": 0.4, "strong_quality": True, "weak_quality": False, "judge_score": 3},
        {"win_rate": 0.2, "strong_quality": False, "weak_quality": True, "judge_score": 8},
    ]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(row) for row in rows) + "\n")

    status = main(["calibrate", "--labels", str(labels), "--target-quality", "1.0", "--json"])
    result = json.loads(capsys.readouterr().out)

    assert status == 0
    # The router reaches quality 1 only by sending the top three prompts strong.
    assert result["router_only"]["threshold"] == 0.4
    assert result["router_only"]["strong_share"] == 0.75
    # A judge cut in (3, 8] sends both wrong weak answers to the fallback: two strong calls in four.
    assert result["hybrid"]["quality"] == 1.0
    assert result["hybrid"]["cost"] == 0.5
    assert 3 < result["hybrid"]["judge_cut"] <= 8


@pytest.mark.parametrize(("arguments", "message"), [
    (["--strong-pct", "1.5"], "--strong-pct 1.5 is outside (0, 1)"),
    (["--strong-pct", "0"], "--strong-pct 0.0 is outside (0, 1)"),
    (["--threshold", "-0.2"], "--threshold -0.2 is outside [0, 1]"),
    ([], "--prompts needs --strong-pct"),
])
def test_bad_arguments_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str],
                             message: str) -> None:
    source = tmp_path / "rates.csv"
    source.write_text("win_rate\n0.5\n")

    status = main(["calibrate", "--prompts", str(source), *arguments])

    assert status == 2
    assert message in capsys.readouterr().err


def test_labels_need_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["calibrate", "--labels", str(tmp_path / "x.csv")])

    assert status == 2
    assert "--target-quality" in capsys.readouterr().err


def test_empty_file_rejected(tmp_path: Path) -> None:
    source = tmp_path / "empty.jsonl"
    source.write_text("\n")

    with pytest.raises(InputError, match="empty.jsonl is empty"):
        read_calibration_file(source)


def test_missing_prompt_column_rejected(tmp_path: Path) -> None:
    source = tmp_path / "prompts.csv"
    source.write_text("text\nhello\n")

    with pytest.raises(InputError, match="no 'prompt' or 'win_rate' column"):
        read_calibration_file(source)


def test_missing_label_column_rejected(tmp_path: Path) -> None:
    source = tmp_path / "labels.csv"
    source.write_text("win_rate,strong_quality\n0.4,1\n")

    with pytest.raises(InputError, match="no 'weak_quality' value"):
        read_calibration_file(source, labelled=True)


def test_win_rate_outside_range_in_file(tmp_path: Path) -> None:
    source = tmp_path / "rates.csv"
    source.write_text("win_rate\n0.4\n1.3\n")

    with pytest.raises(InputError, match="row 2: win_rate 1.3 is outside"):
        read_calibration_file(source)


def test_missing_file_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["calibrate", "--prompts", str(tmp_path / "nope.jsonl"), "--strong-pct", "0.5"])

    assert status == 1
    assert "nope.jsonl does not exist" in capsys.readouterr().err


def test_directory_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["calibrate", "--prompts", str(tmp_path), "--strong-pct", "0.5"])

    assert status == 1
    assert f"{tmp_path} is a directory" in capsys.readouterr().err


def test_tied_win_rates_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "decisions.jsonl"
    rates = [0.3] * 9 + [0.9]
    log.write_text("\n".join(decision_line(rate) for rate in rates) + "\n")

    status = main(["calibrate", "--prompts", str(log), "--strong-pct", "0.3"])
    text = capsys.readouterr().out

    # Three of ten would be 30%, but nine prompts tie at 0.3, so the threshold 0.3 sends all ten.
    assert status == 0
    assert "threshold for 30.0% strong: 0.300000" in text
    assert "send 100.0% of these prompts to the strong model, not 30.0%" in text


def test_untied_win_rates_not_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_text("\n".join(decision_line(rate / 10) for rate in range(10)) + "\n")

    status = main(["calibrate", "--prompts", str(log), "--strong-pct", "0.3"])

    assert status == 0
    assert "note:" not in capsys.readouterr().out
