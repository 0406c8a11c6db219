"""Reading calibration files: prompts, win rates and labels from JSONL, CSV or a decision log.

A file is JSONL when its name ends in `.jsonl` or `.json`, and CSV otherwise.
Each row needs a `prompt` (text to score with the router) or a `win_rate`
(already scored). Decision-log lines carry the win rate their request was
routed with, so re-scoring a log needs no model call. Lines without one, from
modes that do not route, are skipped.

Labelled rows add `strong_quality` and `weak_quality` (a number, or true/false
for correctness), and optionally `judge_score` (the judge's grade of the weak
answer) and per-prompt costs `strong_cost`, `weak_cost` and `judge_cost`.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.errors import InputError

__all__ = ["CalibrationRows", "LABEL_COLUMNS", "OPTIONAL_LABEL_COLUMNS", "read_calibration_file"]

logger = logging.getLogger("hybrid.calibration")

LABEL_COLUMNS = ("strong_quality", "weak_quality")
OPTIONAL_LABEL_COLUMNS = ("judge_score", "strong_cost", "weak_cost", "judge_cost")
_DECISION_LOG_KEYS = ("request_id", "schema_version")


@dataclass(frozen=True)
class CalibrationRows:
    """The usable rows of a calibration file.

    `win_rates` is set when every row has one, otherwise `prompts` contains the
    texts to score. `labels` maps each label column present to its values.
    """

    source: Path
    prompts: list[str] | None
    win_rates: np.ndarray | None
    labels: dict[str, np.ndarray]
    skipped: int


def read_calibration_file(path: Path | str, *, labelled: bool = False) -> CalibrationRows:
    """Read a JSONL, CSV or decision-log file; with `labelled`, require both quality columns."""
    source = Path(path)
    rows = _read_rows(source)
    rows, skipped = _drop_unrouted_log_lines(rows, source)

    win_rates = _win_rates(rows, source)
    prompts = None
    if win_rates is None:
        prompts = [_prompt(row, number, source) for number, row in enumerate(rows, start=1)]

    labels: dict[str, np.ndarray] = {}
    if labelled:
        for column in LABEL_COLUMNS:
            labels[column] = _numbers(rows, column, source, required=True)
        for column in OPTIONAL_LABEL_COLUMNS:
            if any(row.get(column) not in (None, "") for row in rows):
                labels[column] = _numbers(rows, column, source, required=True)

    return CalibrationRows(source=source, prompts=prompts, win_rates=win_rates, labels=labels, skipped=skipped)


def _read_rows(source: Path) -> list[dict[str, Any]]:
    if source.is_dir():
        raise InputError(f"calibration file {source} is a directory; pass a JSONL or CSV file of prompts inside it")
    if not source.is_file():
        raise InputError(f"calibration file {source} does not exist; pass a JSONL or CSV file of prompts")

    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"calibration file {source} cannot be read: {error}") from error

    rows = _jsonl_rows(text, source) if source.suffix in (".jsonl", ".json") else _csv_rows(text, source)
    if not rows:
        raise InputError(f"calibration file {source} is empty; it needs one prompt or win rate per row")
    return rows


def _jsonl_rows(text: str, source: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{source} line {number} is not valid JSON ({error.msg}); write one JSON object per line") from None
        if isinstance(value, str):
            value = {"prompt": value}
        if not isinstance(value, dict):
            raise InputError(f"{source} line {number} is {type(value).__name__}, not a JSON object with a 'prompt' field")
        rows.append(value)
    return rows


def _csv_rows(text: str, source: Path) -> list[dict[str, Any]]:
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    if header and "prompt" not in header and "win_rate" not in header:
        raise InputError(f"{source} has no 'prompt' or 'win_rate' column (its columns are {header}); add one of them")
    return list(reader)


def _drop_unrouted_log_lines(rows: list[dict[str, Any]], source: Path) -> tuple[list[dict[str, Any]], int]:
    if not all(all(key in row for key in _DECISION_LOG_KEYS) for row in rows):
        return rows, 0

    routed = [row for row in rows if row.get("win_rate") is not None]
    skipped = len(rows) - len(routed)
    if not routed:
        raise InputError(
            f"decision log {source} has no record with a win rate; only the router and hybrid modes record one"
        )
    if skipped:
        logger.info("skipped %d of %d decision records of %s that carry no win rate", skipped, len(rows), source)
    return routed, skipped


def _win_rates(rows: Sequence[dict[str, Any]], source: Path) -> np.ndarray | None:
    if not all(row.get("win_rate") not in (None, "") for row in rows):
        return None

    rates = _numbers(rows, "win_rate", source, required=True)
    outside = np.flatnonzero((rates < 0.0) | (rates > 1.0))
    if outside.size:
        raise InputError(f"{source} row {outside[0] + 1}: win_rate {float(rates[outside[0]])!r} is outside [0, 1]")
    return rates


def _prompt(row: dict[str, Any], number: int, source: Path) -> str:
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(
            f"{source} row {number} has no 'prompt' text and no 'win_rate'; give every row one of them "
            "(a decision log written with HYBRID_LOG_PROMPTS=hash or none still carries win rates)"
        )
    return prompt


def _numbers(rows: Sequence[dict[str, Any]], column: str, source: Path, *, required: bool) -> np.ndarray:
    values = []
    for number, row in enumerate(rows, start=1):
        value = row.get(column)
        if value in (None, "") and required:
            raise InputError(f"{source} row {number} has no {column!r} value; every row needs one")
        values.append(_number(value, column, number, source))
    return np.array(values, dtype=float)


def _number(value: Any, column: str, number: int, source: Path) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return float(value.strip().lower() == "true")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{source} row {number}: {column} {value!r} is not a number") from None
    if not math.isfinite(result):
        raise InputError(f"{source} row {number}: {column} {value!r} is not a finite number")
    return result
