"""The JSONL decision log: one whole line per request, appended atomically."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from hybrid.errors import ConfigurationError, DataError
from hybrid.record import DecisionRecord

__all__ = ["DecisionLog", "read_records"]

logger = logging.getLogger("hybrid.decision_log")

_TAIL_CHUNK = 65536


class DecisionLog:
    """Appends decision records to a JSONL file.

    Each record is encoded first and written with one `write` on a file opened
    with O_APPEND, under an exclusive `flock`, so writers in one or several
    processes never interleave lines. A writer killed inside `write` can leave
    an unterminated fragment at the end, so the next writer removes it, under
    the same lock, before its first append.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigurationError(
                f"decision log path {str(self.path)!r} is a directory; name a file such as "
                f"{str(self.path / 'decisions.jsonl')!r}",
                setting="HYBRID_LOG_PATH",
            )
        self._lock = threading.Lock()
        self._tail_checked = False

    def append(self, record: DecisionRecord) -> None:
        line = (record.model_dump_json() + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)

        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not self._tail_checked:
                    _drop_unterminated_tail(fd, self.path)
                    self._tail_checked = True
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            finally:
                os.close(fd)  # closing releases the flock

    def __repr__(self) -> str:
        return f"DecisionLog({str(self.path)!r})"


def read_records(path: Path | str) -> Iterator[DecisionRecord]:
    """Yield the records of a decision log.

    A final fragment without a newline, left by a writer that was killed, is
    skipped with a warning. Any other malformed line raises DataError.
    """
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):
                logger.warning("skipping an unterminated last line in %s (a writer stopped mid-record)", path)
                return
            if not line.strip():
                continue
            try:
                yield DecisionRecord.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValueError) as error:
                raise DataError(f"{path}:{number} is not a decision record: {error}") from error


def _drop_unterminated_tail(fd: int, path: Path) -> None:
    """Truncate the file after its last newline; the caller holds the flock."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return

    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
        end = start
    else:
        keep = 0

    os.ftruncate(fd, keep)
    logger.warning("removed %d bytes of an unfinished record at the end of %s", size - keep, path)
