"""`hybrid train-router` from the command line: argument checks, staged writes, and rebuilding the shipped default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybrid.cli import main
from hybrid.output_paths import staged_dir
from hybrid.predictor import SHIPPED_CHECKPOINT

ROUTELLM = Path(__file__).resolve().parents[2] / "shared" / "data" / "routellm-evals"
needs_data = pytest.mark.skipif(not ROUTELLM.is_dir(), reason="RouteLLM eval data not found next to the repository")


@pytest.mark.parametrize(("arguments", "message"), [
    (["--fit", "logistic", "--l2", "nan"], "--l2 nan must be a positive number"),
    (["--fit", "logistic", "--l2", "inf"], "--l2 inf must be a positive number"),
    (["--fit", "logistic", "--l2", "0"], "--l2 0.0 must be a positive number"),
    (["--features", "log_chars"], "--fit mf does not use --features, which are for --fit logistic"),
    (["--embedder", "wordllama", "--l2", "3"], "--fit mf does not use --embedder or --l2"),
])
def test_bad_arguments_rejected_first(arguments: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "router"

    status = main(["train-router", "--data", str(tmp_path / "missing"), "--output", str(output), *arguments])

    assert status == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_output_that_is_a_file_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "router"
    output.write_text("not a folder")

    status = main(["train-router", "--data", str(tmp_path / "missing"), "--output", str(output)])

    assert status == 1
    assert "is a file; name a folder" in capsys.readouterr().err
    assert output.read_text() == "not a folder"


def test_failed_run_keeps_previous_folder(tmp_path: Path) -> None:
    output = tmp_path / "router"
    output.mkdir()
    (output / "model.safetensors").write_text("working checkpoint")

    with pytest.raises(RuntimeError), staged_dir(output) as staging:
        (staging / "model.safetensors").write_text("half-written checkpoint")
        raise RuntimeError("training failed")

    assert (output / "model.safetensors").read_text() == "working checkpoint"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["router"]


def test_successful_run_replaces_folder(tmp_path: Path) -> None:
    output = tmp_path / "router"
    output.mkdir()
    (output / "old.txt").write_text("old")

    with staged_dir(output) as staging:
        (staging / "model.safetensors").write_text("new checkpoint")

    assert sorted(path.name for path in output.iterdir()) == ["model.safetensors"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["router"]


@needs_data
def test_logistic_defaults_rebuild_shipped_router(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "router"

    status = main(["train-router", "--data", str(ROUTELLM), "--fit", "logistic", "--output", str(output), "--json"])
    report = json.loads(capsys.readouterr().out)

    assert status == 0
    assert report["checkpoint"] == str(output)
    assert report["recipe"] == "ties_weak"
    assert (output / "model.safetensors").read_bytes() == (SHIPPED_CHECKPOINT / "model.safetensors").read_bytes()
    assert json.loads((output / "hybrid.json").read_text()) == json.loads((SHIPPED_CHECKPOINT / "hybrid.json").read_text())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["router"]
