"""RouterBench 0-shot recordings: eleven models' real answers, costs and correctness, replayed through the pipeline.

The folder holds ARC-Challenge, MBPP and Winogrande in a train and a test
split, as `<benchmark>_<split>.csv`. Each row has the prompt, and for each
model a 0/1 correctness label, the answer text and the USD cost billed for
it. The prompt and answer cells are Python list literals of strings.

The replay backends return the recorded answer and its recorded cost. The
replay judge grades an answer by the correctness label of the model that
recorded that exact text for the prompt. It accepts a correct answer in
cascade mode, and picks a correct candidate in parallel mode.

Some rows lack a label for some models; `load_routerbench` drops a row when
any requested model lacks its label, so every replayed answer has one.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import logging
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hybrid.backends import Completion, JudgeReply, Message
from hybrid.cascade import Cascade
from hybrid.decision_log import DecisionLog
from hybrid.errors import DataError, InputError, ReplayMissError
from hybrid.messages import last_user_text, text_of
from hybrid.parallel import BestOfN
from hybrid.pipeline import HybridRouter
from hybrid.predictor import CachedPredictor, Predictor, build_predictor
from hybrid.replay.backends import count_tokens
from hybrid.replay.data import normalize_prompt
from hybrid.settings import HybridSettings
from hybrid.strategy import TimedBackend

__all__ = [
    "BENCHMARK_FILES",
    "DEFAULT_CANDIDATES",
    "DEFAULT_TIERS",
    "MODELS",
    "STRONG_MODEL",
    "WEAK_MODEL",
    "RouterBenchCompletion",
    "RouterBenchItem",
    "RouterBenchJudge",
    "RouterBenchRecording",
    "is_routerbench_dir",
    "load_routerbench",
    "routerbench_router",
]

logger = logging.getLogger("hybrid.replay.router_bench")

MODELS = (
    "WizardLM/WizardLM-13B-V1.2",
    "claude-instant-v1",
    "claude-v1",
    "claude-v2",
    "gpt-3.5-turbo-1106",
    "gpt-4-1106-preview",
    "meta/code-llama-instruct-34b-chat",
    "meta/llama-2-70b-chat",
    "mistralai/mistral-7b-chat",
    "mistralai/mixtral-8x7b-chat",
    "zero-one-ai/Yi-34B-Chat",
)
# Cheap, mid and expensive by recorded cost on the test split.
DEFAULT_TIERS = ("mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview")
DEFAULT_CANDIDATES = DEFAULT_TIERS
# The pair that RouteLLM's router was trained on, for the weak, strong, router and hybrid modes.
WEAK_MODEL = "mistralai/mixtral-8x7b-chat"
STRONG_MODEL = "gpt-4-1106-preview"

# Benchmark name as the `eval_name` column spells it -> file name pattern.
BENCHMARK_FILES = {
    "arc-challenge": "arc_challenge_{split}.csv",
    "mbpp": "mbpp_{split}.csv",
    "winogrande": "winograde_{split}.csv",
}
SPLITS = ("test", "train")

_QUESTION = re.compile(r"<question-([0-9a-f]+)>\n(.*?)\n</question-\1>", re.DOTALL)
_ANSWER = re.compile(r"<answer-([0-9a-f]+)>\n(.*?)\n</answer-\1>", re.DOTALL)
_CANDIDATE = re.compile(r"<candidate-([A-Z])-([0-9a-f]+)>\n(.*?)\n</candidate-\1-\2>", re.DOTALL)


@dataclass(frozen=True)
class RouterBenchItem:
    """One RouterBench prompt with each loaded model's answer, correctness and cost in USD."""

    sample_id: str
    benchmark: str
    prompt: str
    answers: Mapping[str, str]
    correct: Mapping[str, bool]
    cost_usd: Mapping[str, float]
    oracle_model: str


def is_routerbench_dir(path: Path) -> bool:
    """Return True when `path` contains the RouterBench test files rather than the RouteLLM recordings."""
    return all((path / pattern.format(split="test")).is_file() for pattern in BENCHMARK_FILES.values())


def load_routerbench(data_dir: Path, *, split: str = "test", models: Sequence[str] = MODELS,
                     benchmarks: Sequence[str] | None = None) -> list[RouterBenchItem]:
    """Load one split, keeping `models` and dropping rows where any of them has no label.

    Raises InputError for an unknown split, model or benchmark, and DataError
    for a missing file or a malformed cell.
    """
    if split not in SPLITS:
        raise InputError(f"RouterBench split {split!r} is unknown; use one of {SPLITS}")
    unknown = [model for model in models if model not in MODELS]
    if unknown:
        raise InputError(f"RouterBench has no models {unknown}; use names from {list(MODELS)}")
    selected = list(benchmarks) if benchmarks is not None else list(BENCHMARK_FILES)
    unknown = [name for name in selected if name not in BENCHMARK_FILES]
    if unknown:
        raise InputError(f"RouterBench has no benchmarks {unknown}; use names from {list(BENCHMARK_FILES)}")

    items: list[RouterBenchItem] = []
    for name in selected:
        path = data_dir / BENCHMARK_FILES[name].format(split=split)
        rows = _read_rows(path, models)
        kept = [item for item in (_parse_row(row, path, number, models) for number, row in rows) if item is not None]
        if len(kept) < len(rows):
            logger.info("%s: dropped %d of %d rows that lack a label for one of %s",
                        path.name, len(rows) - len(kept), len(rows), list(models))
        items.extend(kept)
    return items


class RouterBenchRecording:
    """RouterBench items indexed by normalised prompt text; the first of two equal prompts wins."""

    def __init__(self, items: Sequence[RouterBenchItem]) -> None:
        self.items = tuple(items)
        self._index: dict[str, RouterBenchItem] = {}
        for item in self.items:
            self._index.setdefault(normalize_prompt(item.prompt), item)
        self.models = tuple(self.items[0].answers) if self.items else ()

    def __len__(self) -> int:
        return len(self.items)

    def lookup(self, prompt: str) -> RouterBenchItem:
        """Return the item of `prompt`, or raise ReplayMissError."""
        item = self._index.get(normalize_prompt(prompt))
        if item is None:
            # A prompt copied from the CSV is still the list literal the file stores it as.
            item = self._index.get(normalize_prompt(_literal_prompt(prompt)))
        if item is None:
            raise ReplayMissError(
                f"prompt is not in the RouterBench recording: {prompt[:80]!r}. The recording contains "
                f"{len(self._index)} prompts. Replay mode serves only recorded prompts; use a live backend for others"
            )
        return item

    def grade(self, prompt: str, answer: str) -> tuple[bool, list[str]]:
        """Return whether `answer` is correct for `prompt`, and the models that recorded that exact text.

        Raises ReplayMissError when no model recorded the text, and DataError
        when models that recorded it carry different labels.
        """
        item = self.lookup(prompt)
        authors = [model for model, text in item.answers.items() if text.strip() == answer.strip()]
        if not authors:
            raise ReplayMissError(f"no model recorded this answer to RouterBench item {item.sample_id}: {answer[:80]!r}")
        labels = {item.correct[model] for model in authors}
        if len(labels) > 1:
            raise DataError(f"RouterBench item {item.sample_id}: models {authors} recorded the same answer "
                            "with different correctness labels")
        return labels.pop(), authors


class RouterBenchCompletion:
    """A CompletionBackend that returns one model's recorded answer and its recorded cost."""

    def __init__(self, recording: RouterBenchRecording, model: str) -> None:
        if model not in recording.models:
            raise InputError(f"model {model!r} was not loaded from RouterBench; loaded: {list(recording.models)}")
        self.recording = recording
        self.model = model

    async def complete(self, messages: list[Message], *, timeout: float) -> Completion:
        item = self.recording.lookup(last_user_text(messages))
        return Completion(text=item.answers[self.model], model=self.model, cost_usd=item.cost_usd[self.model])

    def estimate_cost_usd(self, messages: list[Message]) -> float:
        """Return the recorded cost, which is exact, for the cascade's budget check."""
        return self.recording.lookup(last_user_text(messages)).cost_usd[self.model]


class RouterBenchJudge:
    """A JudgeBackend that grades answers by their recorded correctness labels.

    For the cascade's verdict prompt it accepts a correct answer and rejects a
    wrong one. For the parallel mode's choice prompt it picks a correct
    candidate. When several are correct it picks among their labels with a
    draw from `seed` and the question, and when none is, the candidate whose
    text was recorded by the model latest in `strength_order`.

    NOTE: when two candidates recorded the same text, the none-correct case
    cannot tell them apart and picks the first label of the two.
    """

    def __init__(self, recording: RouterBenchRecording, *, model: str, strength_order: Sequence[str],
                 seed: int = 0) -> None:
        self.recording = recording
        self.model = model
        self.strength_order = list(strength_order)
        self.seed = seed

    async def judge(self, messages: list[Message], *, timeout: float) -> JudgeReply:
        prompt_text = "\n".join(text_of(message.get("content")) for message in messages)
        question = _QUESTION.search(prompt_text)
        if question is None:
            raise ReplayMissError("the RouterBench judge received a prompt without hybrid's question tags")

        candidates = [(label, text) for label, _, text in _CANDIDATE.findall(prompt_text)]
        if candidates:
            raw = json.dumps({"choice": self._pick(question.group(2), candidates), "reason": "recorded labels"})
        else:
            answer = _ANSWER.search(prompt_text)
            if answer is None:
                raise ReplayMissError("the RouterBench judge received a prompt without an answer or candidates")
            correct, _ = self.recording.grade(question.group(2), answer.group(2))
            raw = json.dumps({"verdict": "accept" if correct else "reject", "reason": "recorded label",
                              "nonce": answer.group(1)})

        return JudgeReply(raw=raw, model=self.model, prompt_tokens=count_tokens(self.model, prompt_text),
                          completion_tokens=count_tokens(self.model, raw))

    def _pick(self, question: str, candidates: list[tuple[str, str]]) -> str:
        grades = [(label, *self.recording.grade(question, text)) for label, text in candidates]
        correct = [label for label, is_correct, _ in grades if is_correct]
        if correct:
            digest = hashlib.sha256(f"{self.seed}\n{question}".encode()).digest()
            return correct[int.from_bytes(digest[:8], "big") % len(correct)]

        def strength(authors: list[str]) -> int:
            return max((self.strength_order.index(model) for model in authors if model in self.strength_order),
                       default=-1)

        return max(grades, key=lambda grade: strength(grade[2]))[0]


def routerbench_router(
    settings: HybridSettings,
    recording: RouterBenchRecording,
    *,
    tiers: Sequence[str] = DEFAULT_TIERS,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    predictor: Predictor | None = None,
    log: DecisionLog | None = None,
    seed: int = 0,
) -> HybridRouter:
    """Build a HybridRouter whose models replay RouterBench answers, so it needs no key and no network.

    The weak and strong models are Mixtral and GPT-4, the pair the router was
    trained on. The cascade runs over `tiers` and the parallel mode over
    `candidates`, both ordered from cheapest to strongest. `seed` is the
    judge's draw among correct candidates, and the parallel shuffle seed when
    HYBRID_PARALLEL_SEED is unset.
    """
    def backend(model: str) -> TimedBackend:
        return TimedBackend(RouterBenchCompletion(recording, model), settings.weak_timeout)

    judge = RouterBenchJudge(recording, model=settings.judge_model, strength_order=candidates, seed=seed)
    parallel = BestOfN.from_settings(settings, judge, candidates=[backend(model) for model in candidates])
    if settings.parallel_seed is None:
        parallel.seed = seed

    return HybridRouter(
        settings,
        predictor=predictor or CachedPredictor(build_predictor(settings)),
        weak=RouterBenchCompletion(recording, WEAK_MODEL),
        strong=RouterBenchCompletion(recording, STRONG_MODEL),
        fallback=RouterBenchCompletion(recording, STRONG_MODEL),
        judge=judge,
        log=log,
        cascade=Cascade.from_settings(settings, judge, tiers=[backend(model) for model in tiers]),
        parallel=parallel,
    )


def _read_rows(path: Path, models: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Return (1-based data row number, row) pairs after checking the header."""
    columns = ["sample_id", "prompt", "eval_name", "oracle_model_to_route_to"]
    for model in models:
        columns += [model, f"{model}|model_response", f"{model}|total_cost"]

    # Answer cells of code benchmarks exceed the csv module's default field limit of 128 KiB.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise DataError(f"RouterBench file {path} is missing; pass the folder that holds the "
                        "<benchmark>_<split>.csv files") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [column for column in columns if column not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path} has no column {missing[0]!r}; it is not a RouterBench 0-shot file")
        return list(enumerate(reader, start=1))


def _parse_row(row: dict[str, str], path: Path, number: int, models: Sequence[str]) -> RouterBenchItem | None:
    if any(row[model] == "" for model in models):
        return None

    correct: dict[str, bool] = {}
    for model in models:
        if row[model] not in ("0.0", "1.0"):
            raise DataError(f"{path} row {number}: label {row[model]!r} of {model} is not 0.0 or 1.0")
        correct[model] = row[model] == "1.0"

    try:
        costs = {model: float(row[f"{model}|total_cost"]) for model in models}
    except ValueError as error:
        raise DataError(f"{path} row {number}: a total_cost cell is not a number: {error}") from None

    return RouterBenchItem(
        sample_id=row["sample_id"],
        benchmark=row["eval_name"],
        prompt="\n\n".join(_strings(row["prompt"], path, number, "prompt")),
        answers={model: "\n\n".join(_strings(row[f"{model}|model_response"], path, number, model)) for model in models},
        correct=correct,
        cost_usd=costs,
        oracle_model=row["oracle_model_to_route_to"],
    )


def _literal_prompt(text: str) -> str:
    """Return the prompt a CSV cell such as `['Question: ...']` holds, or `text` when it is no such literal."""
    if not text.lstrip().startswith("["):
        return text
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return "\n\n".join(value)
    return text


def _strings(cell: str, path: Path, number: int, column: str) -> list[str]:
    """Decode a cell that holds a Python list literal of strings."""
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise DataError(f"{path} row {number}: the {column} cell is not a Python list literal") from None
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        raise DataError(f"{path} row {number}: the {column} cell is not a list of strings")
    return value
