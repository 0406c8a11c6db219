"""No configured key appears in anything hybrid writes: logs at DEBUG, records, errors, reprs, stdout or stderr."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fakeprovider import Fault, FakeProvider
from hybrid import HybridError, HybridRouter
from hybrid.settings import load_settings

OPENAI_KEY = "sk-proj-SECRETopenai1234567890"
GROQ_KEY = "gsk_SECRETgroq0987654321"
WEAK = "openai/gpt-oss-20b"
JUDGE = "openai/gpt-oss-120b"
GROQ_PATH = "/openai/v1/chat/completions"
OPENAI_PATH = "/v1/chat/completions"

SCENARIOS = {
    "weak accepted": [("verdict", JUDGE, GROQ_PATH), ("reply", WEAK, GROQ_PATH)],
    "weak 401": [("fault401", WEAK, GROQ_PATH), ("reply", "gpt-4o", OPENAI_PATH)],
    "judge 401": [("reply", WEAK, GROQ_PATH), ("fault401", JUDGE, GROQ_PATH), ("reply", "gpt-4o", OPENAI_PATH)],
    "strong 401": [("fault401", "gpt-4o", OPENAI_PATH)],
    "weak decommissioned": [("decommissioned", WEAK, GROQ_PATH), ("fault500", "gpt-4o", OPENAI_PATH)],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_keys_absent_everywhere(name: str, fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object,
                                caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    for action, model, path in SCENARIOS[name]:
        if action == "verdict":
            fake_provider.verdict("accept", model=model, path=path)
        elif action == "reply":
            fake_provider.reply("4", model=model, path=path)
        elif action == "fault401":
            fake_provider.fault(Fault.unauthorized(), model=model, path=path)
        elif action == "fault500":
            fake_provider.fault(Fault.server_error(500), model=model, path=path)
        else:
            fake_provider.fault(Fault.decommissioned(model), model=model, path=path)
    settings = load_settings(openai_base_url=fake_provider.url + "/v1", openai_api_key=OPENAI_KEY,
                             groq_base_url=fake_provider.url, groq_api_key=GROQ_KEY, strong_retries=0,
                             log_path=tmp_path / "log.jsonl", log_prompts="full")
    router = HybridRouter.from_settings(settings, predictor=shipped_predictor)
    error_text = ""

    with caplog.at_level(logging.DEBUG):
        try:
            router.ask("What is 2 + 2?", threshold=1.0 if name != "strong 401" else 0.0)
        except HybridError as error:
            error_text = f"{error}\n{error!r}\n{error.args}"

    captured = capfd.readouterr()
    written = "\n".join([
        caplog.text,
        "\n".join(str(record.__dict__) for record in caplog.records),
        (tmp_path / "log.jsonl").read_text(),
        error_text,
        captured.out,
        captured.err,
        repr(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        repr(router.strong),
        repr(router.weak.__dict__),
    ])
    # The keys did reach the loopback provider, so the scan below is meaningful.
    assert any(OPENAI_KEY in request.headers.get("authorization", "") or GROQ_KEY in request.headers.get("authorization", "")
               for request in fake_provider.requests)
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1
    assert OPENAI_KEY not in written
    assert GROQ_KEY not in written
    assert "SECRET" not in written
