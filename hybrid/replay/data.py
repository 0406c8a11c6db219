"""Typed loaders for the RouteLLM eval recordings: GSM8K, MT-Bench and MMLU.

Each benchmark row becomes a `RecordedItem` with the prompt, both recorded
models' answers when the data has them, and their quality: a correctness flag
for GSM8K and MMLU, or the GPT-4 judge's 1-10 score for MT-Bench turn 1.

`contaminated` marks the prompts that RouteLLM drops before computing its
metrics because they overlap its router training data. The loaders keep those
rows, so callers filter them out.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hybrid.errors import DataError, InputError, ReplayMissError
from hybrid.replay.download import (
    CACHE_DIR_ENV,
    DEFAULT_FILES,
    ensure_data,
    resolve_cache_dir,
)

__all__ = [
    "ANSWER_END_MARKER",
    "ANSWER_START_MARKER",
    "STRONG_RECORDED",
    "WEAK_RECORDED",
    "RecordedItem",
    "Recording",
    "available_mmlu_domains",
    "extract_judged_answer",
    "load_gsm8k",
    "load_mmlu",
    "load_mt_bench",
    "normalize_prompt",
    "resolve_data_dir",
]

# Model names exactly as the correctness columns and the judgement `model` field spell them.
STRONG_RECORDED = "gpt-4-1106-preview"
WEAK_RECORDED = "mistralai/Mixtral-8x7B-Instruct-v0.1"
RESPONSE_SUFFIX = "_response"

ANSWER_START_MARKER = "[The Start of Assistant's Answer]"
ANSWER_END_MARKER = "[The End of Assistant's Answer]"

GSM8K_CSV = "gsm8k/gsm8k_responses.csv"
GSM8K_CONTAMINATED = "gsm8k/contaminated_prompts.jsonl"
MT_BENCH_QUESTIONS = "mt_bench/question.jsonl"
MT_BENCH_JUDGEMENTS = "mt_bench/judgements.jsonl"
MT_BENCH_CONTAMINATED = "mt_bench/contaminated_prompts.jsonl"
MMLU_CONTAMINATED = "mmlu/contaminated_prompts.jsonl"

MIN_SCORE = 1.0
MAX_SCORE = 10.0

# Appended to errors about malformed files, which are damaged or from another upstream version.
REPLACE_FILE_HINT = (
    "Replace the file with the upstream copy: delete it from the download cache so that "
    "ensure_data fetches it again, or pass --data ../shared/data/routellm-evals"
)


@dataclass(frozen=True)
class RecordedItem:
    """One benchmark prompt with both recorded models' answers and quality labels.

    `item_id` is the 0-based data row for GSM8K, `question_id` for MT-Bench and
    `<domain>/<row>` for MMLU. The `*_correct` fields are set for GSM8K and
    MMLU, the `*_score` fields (1-10) for MT-Bench. MMLU has no answer text.
    """

    benchmark: str
    item_id: str
    prompt: str
    strong_answer: str | None
    weak_answer: str | None
    strong_correct: bool | None
    weak_correct: bool | None
    strong_score: float | None
    weak_score: float | None
    category: str | None
    contaminated: bool


def normalize_prompt(text: str) -> str:
    """Strip `text` and collapse each internal run of Unicode whitespace into one space."""
    return " ".join(text.split())


def resolve_data_dir(path: str | Path | None) -> Path:
    """Return a directory that contains the GSM8K and MT-Bench files.

    With a path, check that every file of `DEFAULT_FILES` is inside it. Without
    one, download the missing files into the cache (see `ensure_data`).
    Raises DataError naming the directory or the first missing file.
    """
    if path is None:
        return ensure_data()

    root = Path(path).expanduser()
    fix = (
        "Pass the folder that holds RouteLLM's gsm8k/ and mt_bench/ files (--data for demo, eval and "
        "train-router; --replay for ask, serve and chat). Without --data, demo, eval and train-router download "
        f"the files into {resolve_cache_dir()} (set {CACHE_DIR_ENV} to change it)"
    )

    if not root.is_dir():
        raise DataError(f"data directory {root} does not exist. {fix}")

    for name in DEFAULT_FILES:
        if (root / name).is_file():
            continue

        hint = ""
        if (root / "routellm-evals" / name).is_file():
            hint = f" It is in {root / 'routellm-evals'}: pass that directory instead."
        raise DataError(f"data directory {root} is missing {name}.{hint} {fix}")

    return root


def load_gsm8k(data_dir: Path) -> list[RecordedItem]:
    """Load the 1,319 GSM8K problems with both models' answers and correctness flags."""
    contaminated = _load_contaminated(data_dir / GSM8K_CONTAMINATED)

    columns = (
        "prompt",
        STRONG_RECORDED,
        WEAK_RECORDED,
        STRONG_RECORDED + RESPONSE_SUFFIX,
        WEAK_RECORDED + RESPONSE_SUFFIX,
    )
    path = data_dir / GSM8K_CSV
    items: list[RecordedItem] = []
    for row_index, row in enumerate(_read_csv(path, columns)):
        prompt = row["prompt"]
        items.append(
            RecordedItem(
                benchmark="gsm8k",
                item_id=str(row_index),
                prompt=prompt,
                strong_answer=row[STRONG_RECORDED + RESPONSE_SUFFIX],
                weak_answer=row[WEAK_RECORDED + RESPONSE_SUFFIX],
                strong_correct=_parse_bool(row[STRONG_RECORDED], path, row_index),
                weak_correct=_parse_bool(row[WEAK_RECORDED], path, row_index),
                strong_score=None,
                weak_score=None,
                category=None,
                contaminated=prompt in contaminated,
            )
        )
    return items


def load_mt_bench(data_dir: Path) -> list[RecordedItem]:
    """Load the 80 MT-Bench questions with both models' turn-1 answers and judge scores.

    The prompt is the first user turn, `turns[0]`. The answers and scores come
    from the turn-1 rows of judgements.jsonl, and `extract_judged_answer`
    describes how an answer is cut out of the judge prompt. RouteLLM marks a
    question contaminated when either of its two turns is a contaminated prompt,
    and this loader does the same.
    """
    contaminated = _load_contaminated(data_dir / MT_BENCH_CONTAMINATED)
    judged = _load_turn1_judgements(data_dir / MT_BENCH_JUDGEMENTS)

    path = data_dir / MT_BENCH_QUESTIONS
    items: list[RecordedItem] = []
    for line_number, question in _read_jsonl(path):
        question_id = _require(question, "question_id", path, line_number)
        turns = _require(question, "turns", path, line_number)
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise DataError(
                f"{path} line {line_number}: `turns` is not a non-empty list of strings. {REPLACE_FILE_HINT}"
            )

        strong = judged.get((question_id, STRONG_RECORDED))
        weak = judged.get((question_id, WEAK_RECORDED))
        if strong is None or weak is None:
            missing = STRONG_RECORDED if strong is None else WEAK_RECORDED
            raise DataError(
                f"{data_dir / MT_BENCH_JUDGEMENTS} has no turn-1 judgement of {missing} "
                f"for question_id {question_id}. {REPLACE_FILE_HINT}"
            )

        items.append(
            RecordedItem(
                benchmark="mt_bench",
                item_id=str(question_id),
                prompt=turns[0],
                strong_answer=strong[0],
                weak_answer=weak[0],
                strong_correct=None,
                weak_correct=None,
                strong_score=strong[1],
                weak_score=weak[1],
                category=question.get("category"),
                contaminated=any(turn in contaminated for turn in turns),
            )
        )
    return items


def extract_judged_answer(user_prompt: str) -> str:
    """Return the model answer quoted in an MT-Bench turn-1 judge prompt.

    The turn-1 judge prompts in judgements.jsonl (`judge` templates single-v1
    and single-math-v1) quote the answer as

        [The Start of Assistant's Answer]\\n<answer>\\n[The End of Assistant's Answer]

    and end with that end marker. The answer is the text after the first start
    marker and its newline, up to the newline before the last end marker. It is
    returned verbatim, so Mixtral answers keep their leading space. The
    single-math-v1 template quotes a reference answer earlier, between
    "[The Start of Reference Answer]" markers, and that text is not returned.

    Raises DataError when a marker is missing or the markers are out of order.
    """
    start_token = ANSWER_START_MARKER + "\n"
    end_token = "\n" + ANSWER_END_MARKER

    start = user_prompt.find(start_token)
    end = user_prompt.rfind(end_token)
    if start < 0 or end < 0 or end < start + len(start_token):
        raise DataError(
            f"judge prompt does not quote an answer between {ANSWER_START_MARKER!r} and "
            f"{ANSWER_END_MARKER!r} lines: {user_prompt[:120]!r}. {REPLACE_FILE_HINT}"
        )

    return user_prompt[start + len(start_token) : end]


def available_mmlu_domains(data_dir: Path) -> list[str]:
    """Return the sorted MMLU domains that have an mmlu_<domain>.csv file in `data_dir`."""
    return sorted(path.stem.removeprefix("mmlu_") for path in (data_dir / "mmlu").glob("mmlu_*.csv"))


def load_mmlu(data_dir: Path, domains: list[str] | None = None) -> list[RecordedItem]:
    """Load MMLU questions with both models' correctness flags, domain by domain.

    `domains` defaults to every domain file present, in sorted order. The data
    has no answer text. `category` is the domain and `item_id` is
    `<domain>/<0-based row>`. Raises InputError for an unknown or repeated domain.
    """
    available = available_mmlu_domains(data_dir)
    if not available:
        raise DataError(
            f"no mmlu/mmlu_<domain>.csv files in {data_dir}. Pass --data "
            "../shared/data/routellm-evals, or download them with "
            "ensure_data(files=DEFAULT_FILES + MMLU_FILES)"
        )

    selected = available if domains is None else _check_domains(domains, available)
    contaminated = _load_contaminated(data_dir / MMLU_CONTAMINATED)

    items: list[RecordedItem] = []
    for domain in selected:
        path = data_dir / "mmlu" / f"mmlu_{domain}.csv"
        for row_index, row in enumerate(_read_csv(path, ("prompt", STRONG_RECORDED, WEAK_RECORDED))):
            prompt = row["prompt"]
            items.append(
                RecordedItem(
                    benchmark="mmlu",
                    item_id=f"{domain}/{row_index}",
                    prompt=prompt,
                    strong_answer=None,
                    weak_answer=None,
                    strong_correct=_parse_bool(row[STRONG_RECORDED], path, row_index),
                    weak_correct=_parse_bool(row[WEAK_RECORDED], path, row_index),
                    strong_score=None,
                    weak_score=None,
                    category=domain,
                    contaminated=prompt in contaminated,
                )
            )
    return items


class Recording:
    """Recorded items indexed by normalised prompt text, which the replay backends serve.

    A prompt matches when it equals a recorded prompt after `normalize_prompt`.
    MMLU repeats 105 prompts (4 of them with different labels), so `lookup`
    returns the first match in the order the items were given and
    `lookup_all` returns every match.
    """

    def __init__(self, items: Iterable[RecordedItem]) -> None:
        self._items = tuple(items)

        index: dict[str, list[RecordedItem]] = {}
        for item in self._items:
            index.setdefault(normalize_prompt(item.prompt), []).append(item)
        self._index = {key: tuple(matches) for key, matches in index.items()}

        self._benchmarks = tuple(dict.fromkeys(item.benchmark for item in self._items))

    @property
    def items(self) -> tuple[RecordedItem, ...]:
        """All items in the order they were given, repeated prompts included."""
        return self._items

    @property
    def benchmarks(self) -> tuple[str, ...]:
        """Benchmark names of the items, in order of first appearance."""
        return self._benchmarks

    @property
    def prompt_count(self) -> int:
        """Number of distinct prompts after normalisation."""
        return len(self._index)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, prompt: object) -> bool:
        return isinstance(prompt, str) and normalize_prompt(prompt) in self._index

    def lookup(self, prompt: str) -> RecordedItem:
        """Return the first recorded item whose prompt matches, or raise ReplayMissError."""
        return self.lookup_all(prompt)[0]

    def lookup_all(self, prompt: str) -> tuple[RecordedItem, ...]:
        """Return every recorded item whose prompt matches, or raise ReplayMissError."""
        matches = self._index.get(normalize_prompt(prompt))
        if matches is not None:
            return matches

        benchmarks = ", ".join(self._benchmarks) or "none"
        raise ReplayMissError(
            f"prompt is not in the recording: {prompt[:80]!r}. The recording contains "
            f"{self.prompt_count} prompts from benchmarks: {benchmarks}. Replay mode "
            "serves only recorded benchmark prompts. Use a live backend for other prompts"
        )


def _check_domains(domains: Sequence[str], available: list[str]) -> list[str]:
    if not domains:
        raise InputError("domains is an empty list. Pass None to load every MMLU domain")

    repeated = sorted({domain for domain in domains if domains.count(domain) > 1})
    if repeated:
        raise InputError(f"MMLU domains {repeated} are listed more than once. List each domain once")

    unknown = [domain for domain in domains if domain not in available]
    if unknown:
        raise InputError(
            f"unknown MMLU domains {unknown}. Available domains: {', '.join(available)}"
        )

    return list(domains)


def _load_turn1_judgements(path: Path) -> dict[tuple[Any, str], tuple[str, float]]:
    """Map (question_id, model) to the turn-1 (answer, score) pair of each recorded model."""
    judged: dict[tuple[Any, str], tuple[str, float]] = {}

    for line_number, row in _read_jsonl(path):
        if _require(row, "turn", path, line_number) != 1:
            continue

        model = _require(row, "model", path, line_number)
        if model not in (STRONG_RECORDED, WEAK_RECORDED):
            continue

        key = (_require(row, "question_id", path, line_number), model)
        if key in judged:
            raise DataError(
                f"{path} line {line_number}: second turn-1 judgement of {model} for "
                f"question_id {key[0]}. {REPLACE_FILE_HINT}"
            )

        score = _require(row, "score", path, line_number)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise DataError(
                f"{path} line {line_number}: score {score!r} is not a number. {REPLACE_FILE_HINT}"
            )
        if not MIN_SCORE <= score <= MAX_SCORE:
            raise DataError(
                f"{path} line {line_number}: score {score} is outside {MIN_SCORE:g}-{MAX_SCORE:g}. "
                f"{REPLACE_FILE_HINT}"
            )

        answer = extract_judged_answer(_require(row, "user_prompt", path, line_number))
        judged[key] = (answer, float(score))

    return judged


def _load_contaminated(path: Path) -> frozenset[str]:
    """Return the `eval_prompt` values of a contaminated_prompts.jsonl file."""
    prompts: set[str] = set()
    for line_number, row in _read_jsonl(path):
        prompt = _require(row, "eval_prompt", path, line_number)
        if not isinstance(prompt, str):
            raise DataError(
                f"{path} line {line_number}: eval_prompt {prompt!r} is not a string. {REPLACE_FILE_HINT}"
            )
        prompts.add(prompt)
    return frozenset(prompts)


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Return (1-based line number, object) pairs for each non-blank line of a JSON Lines file."""
    rows: list[tuple[int, dict[str, Any]]] = []
    with _open(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue

            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"{path} line {line_number} is not valid JSON: {error}. {REPLACE_FILE_HINT}"
                ) from error
            if not isinstance(row, dict):
                raise DataError(f"{path} line {line_number} is not a JSON object. {REPLACE_FILE_HINT}")

            rows.append((line_number, row))
    return rows


def _read_csv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """Return the data rows of a CSV file after checking that its header has `columns`."""
    with _open(path) as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [column for column in columns if column not in header]
        if missing:
            raise DataError(
                f"{path} has no column {missing[0]!r} (its columns are {header}). {REPLACE_FILE_HINT}"
            )
        return list(reader)


def _open(path: Path) -> TextIO:
    """Open a data file as UTF-8 text, raising DataError when it is missing."""
    try:
        return path.open(encoding="utf-8", newline="")
    except FileNotFoundError as error:
        raise DataError(
            f"data file {path} is missing. Pass the RouteLLM evals folder (--data, or --replay for ask, serve "
            "and chat); without --data, demo, eval and train-router download the data"
        ) from error


def _parse_bool(value: str, path: Path, row_index: int) -> bool:
    if value == "True":
        return True
    if value == "False":
        return False
    raise DataError(
        f"{path} data row {row_index}: correctness value {value!r} is not True or False. "
        f"{REPLACE_FILE_HINT}"
    )


def _require(row: dict[str, Any], key: str, path: Path, line_number: int) -> Any:
    if key not in row:
        raise DataError(f"{path} line {line_number} has no {key!r} field. {REPLACE_FILE_HINT}")
    return row[key]
