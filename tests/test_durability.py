"""Concurrency and durability: many requests, one loop, killed writers."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fakeprovider import FakeProvider
from datetime import UTC, datetime

from hybrid import HybridRouter
from hybrid.decision_log import DecisionLog, read_records
from hybrid.record import DecisionRecord, Mode
from hybrid.settings import load_settings

NOW = datetime.now(UTC)
ACCEPT_TEMPLATE = '{{"verdict": "accept", "reason": "fine", "nonce": "{nonce}"}}'


def slow_reply(request: dict[str, object]) -> dict[str, object]:
    """Answer after a random 0-30 ms; judge calls get an accept that echoes the nonce of their tags."""
    time.sleep(random.uniform(0.0, 0.03))
    text = "4"
    for message in request.get("messages", []):  # type: ignore[union-attr]
        content = str(message.get("content", ""))  # type: ignore[union-attr]
        if "<answer-" in content:
            nonce = content.split("<answer-", 1)[1].split(">", 1)[0]
            text = ACCEPT_TEMPLATE.format(nonce=nonce)
    return {
        "id": "chatcmpl-durability",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        "service_tier": "on_demand",  # LiteLLM's Groq provider requires it
    }


def test_thousand_concurrent_requests(fake_provider: FakeProvider, tmp_path: Path, shipped_predictor: object) -> None:
    fake_provider.respond(slow_reply)
    settings = load_settings(openai_base_url=fake_provider.url + "/v1", openai_api_key="sk-test",
                             groq_base_url=fake_provider.url, groq_api_key="gsk-test",
                             log_path=tmp_path / "log.jsonl", weak_timeout=60, judge_timeout=60)
    router = HybridRouter.from_settings(settings, predictor=shipped_predictor)
    prompts = [f"What is {n} plus {n}?" for n in range(1000)]
    shipped_predictor.win_rates(prompts)  # embed up front; routing then reads the cache

    async def run() -> list[object]:
        await router.aask("warm up the clients", threshold=1.0)  # first calls import and build clients
        semaphore = asyncio.Semaphore(200)

        async def one(prompt: str) -> object:
            async with semaphore:
                return await router.aask(prompt, threshold=1.0)

        return await asyncio.gather(*(one(prompt) for prompt in prompts))

    answers = asyncio.run(run())

    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(answers) == 1000
    assert len(records) == 1001
    assert len({record["request_id"] for record in records}) == 1001
    assert sorted(record["prompt"] for record in records) == sorted([*prompts, "warm up the clients"])
    assert all(record["verdict"] == "accept" for record in records)


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from hybrid.decision_log import DecisionLog
    from hybrid.record import DecisionRecord, Mode

    log = DecisionLog(sys.argv[1])
    now = datetime.now(UTC)
    for index in range(10**9):
        log.append(DecisionRecord(request_id=f"r{index}", started_at=now, finished_at=now, latency_ms=1.0,
                                  mode=Mode.HYBRID, answer="x" * 20000))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_leaves_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not path.exists() or path.stat().st_size < 2_000_000):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)

    complete, _, _tail = path.read_bytes().rpartition(b"\n")
    lines = complete.split(b"\n")
    assert len(lines) > 50
    for line in lines:
        assert json.loads(line)["answer"] == "x" * 20000
    assert [record.request_id for record in read_records(path)] == [f"r{n}" for n in range(len(lines))]

    # The next writer removes an unfinished tail before appending, so every line is whole again.
    DecisionLog(path).append(DecisionRecord(request_id="after", started_at=NOW, finished_at=NOW, latency_ms=1.0,
                                            mode=Mode.HYBRID))
    repaired = path.read_bytes()
    assert repaired.endswith(b"\n")
    assert [json.loads(line)["request_id"] for line in repaired.splitlines()][-1] == "after"
    assert len(repaired.splitlines()) == len(lines) + 1
