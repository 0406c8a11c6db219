"""Settings: sources, validation, secrets and the example file."""

from __future__ import annotations

import re
from pathlib import Path

import litellm
import pytest

from hybrid.errors import ConfigurationError
from hybrid.judge_client import groq_sdk_base_url
from hybrid.settings import HybridSettings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file = tmp_path / "settings.env"
    settings_file.write_text("HYBRID_WEAK_MODEL=groq/openai/gpt-oss-120b\nHYBRID_THRESHOLD=0.3\n")
    monkeypatch.setenv("HYBRID_THRESHOLD", "0.7")

    settings = load_settings(settings_file)

    assert settings.weak_model == "groq/openai/gpt-oss-120b"
    assert settings.threshold == 0.7
    assert load_settings(settings_file, threshold=0.1).threshold == 0.1


def test_unknown_key_in_file_rejected(tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.env"
    settings_file.write_text("HYBRID_TRESHOLD=0.3\n")

    with pytest.raises(ConfigurationError, match="TRESHOLD"):
        load_settings(settings_file)


@pytest.mark.parametrize("overrides, name", [
    ({"threshold": 1.5}, "HYBRID_THRESHOLD"),
    ({"log_prompts": "everything"}, "HYBRID_LOG_PROMPTS"),
    ({"judge_language": "fr"}, "HYBRID_JUDGE_LANGUAGE"),
    ({"openai_base_url": "api.openai.com"}, "HYBRID_OPENAI_BASE_URL"),
    ({"weak_timeout": 0}, "HYBRID_WEAK_TIMEOUT"),
    ({"strong_model": "  "}, "HYBRID_STRONG_MODEL"),
])
def test_invalid_values_name_the_setting(overrides: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        load_settings(**overrides)


def test_invalid_value_is_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRID_THRESHOLD", "abc")

    with pytest.raises(ConfigurationError, match=r"HYBRID_THRESHOLD.*got 'abc'"):
        load_settings()


def test_key_value_never_echoed(tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.env"
    settings_file.write_text('HYBRID_PRICES={"m": {"input_per_million": "sk-secret-price"}}\nHYBRID_OPENAI_API_KEY=sk-secret-key\n')

    with pytest.raises(ConfigurationError) as caught:
        load_settings(settings_file)

    assert "sk-secret-price" in str(caught.value)
    assert "sk-secret-key" not in str(caught.value)


def test_empty_environment_value_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRID_THRESHOLD", "")
    monkeypatch.setenv("HYBRID_WEAK_TIMEOUT", "")

    settings = load_settings()

    assert settings.threshold is None
    assert settings.weak_timeout == HybridSettings.model_fields["weak_timeout"].default


def test_unknown_environment_name_warns(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HYBRID_STRONG_MODLE", "x")

    with caplog.at_level("WARNING", logger="hybrid.settings"):
        load_settings()
        load_settings()

    warnings = [record.getMessage() for record in caplog.records if "HYBRID_STRONG_MODLE" in record.getMessage()]
    assert len(warnings) == 1
    assert "did you mean HYBRID_STRONG_MODEL?" in warnings[0]


def test_unparsable_settings_line_rejected(tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.env"
    settings_file.write_text("# comment\nHYBRID_WEAK_MODEL=groq/x\nHYBRID_THRESHOLD 0.3\n")

    with pytest.raises(ConfigurationError, match=r"line 3: .*'HYBRID_THRESHOLD'.*NAME=value"):
        load_settings(settings_file)


def test_settings_path_is_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        load_settings(tmp_path)


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.env")


def test_unreadable_settings_file(tmp_path: Path) -> None:
    settings_file = tmp_path / "binary.env"
    settings_file.write_bytes(b"\xff\xfe\x00bad")

    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_settings(settings_file)


def test_keys_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-from-env-QQ77")

    settings = load_settings(openai_api_key="sk-inline-RR88")

    assert settings.groq_api_key.get_secret_value() == "gsk-from-env-QQ77"
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert "gsk-from-env-QQ77" not in text
        assert "sk-inline-RR88" not in text


def test_example_file_lists_every_setting() -> None:
    example = (ROOT / "settings.env.example").read_text()
    named = set(re.findall(r"^#?\s*(HYBRID_[A-Z_]+)=", example, re.MULTILINE))

    expected = {f"HYBRID_{name.upper()}" for name in HybridSettings.model_fields}
    assert named == expected
    load_settings(ROOT / "settings.env.example")


@pytest.mark.parametrize("field", ["strong_model", "weak_model"])
def test_default_models_have_prices(field: str) -> None:
    assert HybridSettings.model_fields[field].default in litellm.model_cost


def test_default_judge_model_has_price() -> None:
    assert "groq/" + HybridSettings.model_fields["judge_model"].default in litellm.model_cost


@pytest.mark.parametrize("url, bare", [
    ("https://api.groq.com", "https://api.groq.com"),
    ("https://api.groq.com/", "https://api.groq.com"),
    ("https://api.groq.com/openai/v1", "https://api.groq.com"),
    ("http://127.0.0.1:8080/openai/v1/", "http://127.0.0.1:8080"),
])
def test_groq_base_url_normalised(url: str, bare: str) -> None:
    assert groq_sdk_base_url(url) == bare


@pytest.mark.parametrize("raw, expected", [
    ("groq/openai/gpt-oss-20b, gpt-4o", ["groq/openai/gpt-oss-20b", "gpt-4o"]),
    ('["groq/openai/gpt-oss-20b", "gpt-4o"]', ["groq/openai/gpt-oss-20b", "gpt-4o"]),
])
def test_model_lists_accept_commas_or_json(raw: str, expected: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRID_CASCADE_TIERS", raw)

    assert load_settings().cascade_tiers == expected


@pytest.mark.parametrize("name, raw", [("HYBRID_PRICES", "{bad"), ("HYBRID_CASCADE_TIERS", "[bad")])
def test_malformed_structured_value_named(name: str, raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, raw)

    with pytest.raises(ConfigurationError, match=name):
        load_settings()


def test_typo_key_suggests_the_setting(tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.env"
    settings_file.write_text("HYBRID_TRESHOLD=0.3\n")

    with pytest.raises(ConfigurationError) as caught:
        load_settings(settings_file)

    assert "HYBRID_HYBRID" not in str(caught.value)
    assert "did you mean HYBRID_THRESHOLD?" in str(caught.value)


def test_settings_option_after_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid.cli import main

    status = main(["route", "--settings", str(tmp_path / "missing.env"), "hello"])

    assert status == 1
    assert "missing.env" in capsys.readouterr().err


def test_shipped_checkpoint_by_name() -> None:
    from hybrid.predictor import CHECKPOINTS_DIR, build_predictor

    predictor = build_predictor(load_settings(checkpoint="mf-minilm"))

    assert predictor.checkpoint.source == str(CHECKPOINTS_DIR / "mf-minilm")
