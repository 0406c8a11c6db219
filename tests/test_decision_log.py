"""The JSONL decision log under concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hybrid.decision_log import DecisionLog, read_records
from hybrid.errors import DataError
from hybrid.record import SCHEMA_VERSION, DecisionRecord, Mode


def make_record(request_id: str, answer: str = "x" * 5000) -> DecisionRecord:
    now = datetime.now(UTC)
    return DecisionRecord(request_id=request_id, started_at=now, finished_at=now, latency_ms=1.0,
                          mode=Mode.HYBRID, answer=answer)


def write_many(path: str, prefix: str, count: int) -> None:
    log = DecisionLog(path)
    for index in range(count):
        log.append(make_record(f"{prefix}-{index}"))


def test_threads_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    threads = [threading.Thread(target=write_many, args=(str(path), f"t{n}", 50)) for n in range(8)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = list(read_records(path))
    assert len(records) == 400
    assert len({record.request_id for record in records}) == 400
    assert all(record.schema_version == SCHEMA_VERSION for record in records)


def test_processes_lose_no_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=write_many, args=(str(path), f"p{n}", 100)) for n in range(3)]

    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)

    lines = path.read_text().splitlines()
    assert len(lines) == 300
    assert len({json.loads(line)["request_id"] for line in lines}) == 300


def test_malformed_line_reported(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    DecisionLog(path).append(make_record("ok"))
    with open(path, "a") as handle:
        handle.write('{"request_id": \n')

    with pytest.raises(DataError, match="log.jsonl:2"):
        list(read_records(path))
