"""The JSONL decision log: one whole line per request, appended atomically."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from hybrid.errors import DataError
from hybrid.record import DecisionRecord

__all__ = ["DecisionLog", "read_records"]


class DecisionLog:
    """Appends decision records to a JSONL file.

    Each record is encoded first and written with a single `write` on a file
    opened with O_APPEND, so concurrent writers in one or several processes
    never interleave partial lines. A lock serialises writers within a process.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: DecisionRecord) -> None:
        line = (record.model_dump_json() + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)

        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    os.write(fd, line[written:])
            finally:
                os.close(fd)

    def __repr__(self) -> str:
        return f"DecisionLog({str(self.path)!r})"


def read_records(path: Path | str) -> Iterator[DecisionRecord]:
    """Yield the records of a decision log, raising DataError on a malformed line."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield DecisionRecord.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValueError) as error:
                raise DataError(f"{path}:{number} is not a decision record: {error}") from error
