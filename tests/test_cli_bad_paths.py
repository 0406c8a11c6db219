"""Output paths, ports and flag values that the CLI rejects before doing any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybrid.cli import main
from hybrid.decision_log import DecisionLog
from hybrid.errors import ConfigurationError

# None of these runs reaches the data: the paths are checked first, so a missing folder is fine.
DATA = "/nonexistent-data-folder"


@pytest.mark.parametrize(("arguments", "message"), [
    (["eval", "--data", DATA, "--json-out", "{tmp}"], "--json-out '{tmp}' is a directory"),
    (["eval", "--data", DATA, "--plot", "{tmp}/chart.bmp"], "suffix .bmp, which matplotlib cannot save"),
    (["eval", "--data", DATA, "--json-out", "{tmp}/file.txt/out.json"], "which is a file"),
    (["demo", "--data", DATA, "--log", "{tmp}"], "--log '{tmp}' is a directory"),
    (["demo", "--data", DATA, "--plot", "{tmp}/chart.txt"], "suffix .txt"),
])
def test_bad_output_path_rejected_first(arguments: list[str], message: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file.txt").write_text("x")

    status = main([argument.format(tmp=tmp_path) for argument in arguments])
    error = capsys.readouterr().err

    assert status != 0
    assert message.format(tmp=tmp_path) in error
    assert "Traceback" not in error
    assert "data directory" not in error


def test_missing_output_folder_accepted(tmp_path: Path) -> None:
    from hybrid.output_paths import check_chart_path, check_output_file

    check_output_file(tmp_path / "new" / "eval.json", "--json-out")
    check_chart_path(tmp_path / "new" / "eval.svg", "--plot")

    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("port", "message"), [("99999", "outside 1-65535"), ("0", "outside 1-65535"),
                                               ("abc", "not a port number")])
def test_bad_port_rejected(port: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", port])

    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_decision_log_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory") as caught:
        DecisionLog(tmp_path)

    assert caught.value.setting == "HYBRID_LOG_PATH"


@pytest.mark.parametrize(("arguments", "message"), [
    (["--false-accept", "2"], "--false-accept 2.0 is outside [0, 1]"),
    (["--false-reject", "-0.5"], "--false-reject -0.5 is outside [0, 1]"),
    (["--mt-bench-cut", "11"], "--mt-bench-cut 11.0 is outside 1-10"),
])
def test_demo_judge_flags_named(arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["demo", "--data", DATA, *arguments])

    assert status == 2
    assert message in capsys.readouterr().err
