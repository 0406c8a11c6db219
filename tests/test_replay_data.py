"""Tests for the recorded RouteLLM data loaders, the prompt lookup and the downloader.

Expected counts are computed here straight from the files with the csv and
json modules, so they do not depend on the loader under test. The downloader
tests only talk to an HTTP server that the test starts on 127.0.0.1.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import shutil
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hybrid.errors import DataError, InputError, ReplayMissError
from hybrid.replay.data import (
    ANSWER_END_MARKER,
    ANSWER_START_MARKER,
    STRONG_RECORDED,
    WEAK_RECORDED,
    RecordedItem,
    Recording,
    load_gsm8k,
    load_mmlu,
    load_mt_bench,
    normalize_prompt,
    resolve_data_dir,
)
from hybrid.replay.download import DEFAULT_FILES, SHA256, ensure_data

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EVALS = SHARED_DATA / "routellm-evals"

needs_data = pytest.mark.skipif(
    not (EVALS / "gsm8k" / "gsm8k_responses.csv").is_file(),
    reason=f"recorded RouteLLM data not found at {EVALS}; CI provides it",
)


@pytest.fixture(autouse=True)
def _no_real_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the default download URL at a closed loopback port and the cache at tmp_path."""
    monkeypatch.setenv("HYBRID_DATA_URL", f"http://127.0.0.1:{_closed_port()}/evals")
    monkeypatch.setenv("HYBRID_CACHE_DIR", str(tmp_path / "default-cache"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _contaminated(benchmark: str) -> set[str]:
    return {row["eval_prompt"] for row in _jsonl(EVALS / benchmark / "contaminated_prompts.jsonl")}


@pytest.fixture(scope="module")
def gsm8k() -> list[RecordedItem]:
    return load_gsm8k(EVALS)


@pytest.fixture(scope="module")
def mt_bench() -> list[RecordedItem]:
    return load_mt_bench(EVALS)


# --- GSM8K -----------------------------------------------------------------


@needs_data
def test_gsm8k_row_count(gsm8k: list[RecordedItem]) -> None:
    rows = _csv_rows(EVALS / "gsm8k" / "gsm8k_responses.csv")

    assert len(gsm8k) == len(rows)
    assert [item.item_id for item in gsm8k] == [str(i) for i in range(len(rows))]


@needs_data
def test_gsm8k_outcome_counts(gsm8k: list[RecordedItem]) -> None:
    rows = _csv_rows(EVALS / "gsm8k" / "gsm8k_responses.csv")
    expected = Counter(
        (row["gpt-4-1106-preview"] == "True", row["mistralai/Mixtral-8x7B-Instruct-v0.1"] == "True")
        for row in rows
    )

    actual = Counter((item.strong_correct, item.weak_correct) for item in gsm8k)

    assert actual[(True, True)] == expected[(True, True)]
    assert actual[(True, False)] == expected[(True, False)]
    assert actual[(False, True)] == expected[(False, True)]
    assert actual[(False, False)] == expected[(False, False)]
    assert sum(actual.values()) == len(rows)


@needs_data
def test_gsm8k_answers_match_columns(gsm8k: list[RecordedItem]) -> None:
    rows = _csv_rows(EVALS / "gsm8k" / "gsm8k_responses.csv")

    for item, row in zip(gsm8k, rows, strict=True):
        assert item.prompt == row["prompt"]
        assert item.strong_answer == row["gpt-4-1106-preview_response"]
        assert item.weak_answer == row["mistralai/Mixtral-8x7B-Instruct-v0.1_response"]
        assert item.benchmark == "gsm8k"
        assert item.strong_score is None
        assert item.weak_score is None


@needs_data
def test_gsm8k_contaminated_exclusions(gsm8k: list[RecordedItem]) -> None:
    rows = _csv_rows(EVALS / "gsm8k" / "gsm8k_responses.csv")
    contaminated = _contaminated("gsm8k")
    expected_uncontaminated = sum(row["prompt"] not in contaminated for row in rows)

    uncontaminated = [item for item in gsm8k if not item.contaminated]

    assert expected_uncontaminated < len(rows)
    assert len(uncontaminated) == expected_uncontaminated
    assert {item.prompt for item in gsm8k if item.contaminated} <= contaminated


# --- MT-Bench --------------------------------------------------------------


@needs_data
def test_mt_bench_turn1_prompts(mt_bench: list[RecordedItem]) -> None:
    questions = _jsonl(EVALS / "mt_bench" / "question.jsonl")

    assert len(mt_bench) == len(questions)
    for item, question in zip(mt_bench, questions, strict=True):
        assert item.item_id == str(question["question_id"])
        assert item.prompt == question["turns"][0]
        assert item.category == question["category"]
        assert item.strong_correct is None
        assert item.weak_correct is None


@needs_data
def test_mt_bench_scores_match_judgements(mt_bench: list[RecordedItem]) -> None:
    judgements = _jsonl(EVALS / "mt_bench" / "judgements.jsonl")
    turn1 = {
        (str(row["question_id"]), row["model"]): float(row["score"])
        for row in judgements
        if row["turn"] == 1
    }

    for item in mt_bench:
        assert item.strong_score == turn1[(item.item_id, "gpt-4-1106-preview")], item.item_id
        assert item.weak_score == turn1[(item.item_id, "mistralai/Mixtral-8x7B-Instruct-v0.1")], item.item_id


@needs_data
def test_mt_bench_contaminated_exclusions(mt_bench: list[RecordedItem]) -> None:
    questions = _jsonl(EVALS / "mt_bench" / "question.jsonl")
    contaminated = _contaminated("mt_bench")
    expected_uncontaminated = sum(
        not any(turn in contaminated for turn in question["turns"]) for question in questions
    )

    uncontaminated = [item for item in mt_bench if not item.contaminated]

    assert expected_uncontaminated < len(questions)
    assert len(uncontaminated) == expected_uncontaminated


@needs_data
@pytest.mark.parametrize("question_id", [81, 101, 111, 125, 131, 160])
def test_mt_bench_answer_extraction(mt_bench: list[RecordedItem], question_id: int) -> None:
    item = next(item for item in mt_bench if item.item_id == str(question_id))
    judgements = _jsonl(EVALS / "mt_bench" / "judgements.jsonl")
    prompts = {
        row["model"]: row["user_prompt"]
        for row in judgements
        if row["question_id"] == question_id and row["turn"] == 1
    }

    for model, answer in ((STRONG_RECORDED, item.strong_answer), (WEAK_RECORDED, item.weak_answer)):
        assert answer
        user_prompt = prompts[model]
        assert answer in user_prompt
        assert ANSWER_START_MARKER not in answer
        assert ANSWER_END_MARKER not in answer
        assert "[The Start of Reference Answer]" not in answer

        # The answer fills the whole space between the two marker lines.
        position = user_prompt.index(answer)
        assert user_prompt[:position].endswith(ANSWER_START_MARKER + "\n")
        assert user_prompt[position + len(answer) :] == "\n" + ANSWER_END_MARKER


# --- MMLU ------------------------------------------------------------------


@needs_data
def test_mmlu_counts_and_exclusions() -> None:
    files = sorted((EVALS / "mmlu").glob("mmlu_*.csv"))
    rows = [row for path in files for row in _csv_rows(path)]
    contaminated = _contaminated("mmlu")
    expected_outcomes = Counter(
        (row["gpt-4-1106-preview"] == "True", row["mistralai/Mixtral-8x7B-Instruct-v0.1"] == "True")
        for row in rows
    )
    expected_uncontaminated = sum(row["prompt"] not in contaminated for row in rows)

    items = load_mmlu(EVALS)

    assert len(items) == len(rows)
    assert Counter((item.strong_correct, item.weak_correct) for item in items) == expected_outcomes
    assert expected_uncontaminated < len(rows)
    assert sum(not item.contaminated for item in items) == expected_uncontaminated
    assert all(item.strong_answer is None and item.weak_answer is None for item in items)


@needs_data
def test_mmlu_domain_subset() -> None:
    rows = _csv_rows(EVALS / "mmlu" / "mmlu_anatomy.csv")

    items = load_mmlu(EVALS, ["anatomy"])

    assert len(items) == len(rows)
    assert items[0].item_id == "anatomy/0"
    assert items[-1].item_id == f"anatomy/{len(rows) - 1}"
    assert {item.category for item in items} == {"anatomy"}


@needs_data
def test_mmlu_unknown_domain() -> None:
    with pytest.raises(InputError, match="no_such_domain"):
        load_mmlu(EVALS, ["no_such_domain"])


# --- Recording -------------------------------------------------------------


def _item(prompt: str, benchmark: str = "gsm8k", item_id: str = "0") -> RecordedItem:
    return RecordedItem(
        benchmark=benchmark,
        item_id=item_id,
        prompt=prompt,
        strong_answer="strong",
        weak_answer="weak",
        strong_correct=True,
        weak_correct=False,
        strong_score=None,
        weak_score=None,
        category=None,
        contaminated=False,
    )


def test_normalize_prompt_whitespace() -> None:
    assert normalize_prompt("  a \t b\n\n c  ") == "a b c"
    assert normalize_prompt("a\u00a0 b") == "a b"


def test_recording_exact_hit() -> None:
    item = _item("What is 2 + 2?")
    recording = Recording([item, _item("Other", benchmark="mt_bench", item_id="81")])

    assert recording.lookup("What is 2 + 2?") is item
    assert "What is 2 + 2?" in recording


def test_recording_whitespace_variant_hit() -> None:
    item = _item("Line one.\nLine  two?")
    recording = Recording([item])

    assert recording.lookup("  Line one. Line two?\n") is item
    assert recording.lookup("Line one.\t\tLine\n\ntwo?") is item


def test_recording_miss_raises() -> None:
    recording = Recording(
        [_item("first"), _item("second", item_id="1"), _item("third", benchmark="mt_bench")]
    )

    with pytest.raises(ReplayMissError) as caught:
        recording.lookup("not recorded")

    message = str(caught.value)
    assert "not in the recording" in message
    assert "3 prompts" in message
    assert "gsm8k, mt_bench" in message


def test_recording_repeated_prompt() -> None:
    first = _item("same", benchmark="mmlu", item_id="a/0")
    second = _item("same ", benchmark="mmlu", item_id="b/3")
    recording = Recording([first, second])

    assert recording.lookup("same") is first
    assert recording.lookup_all("same") == (first, second)
    assert recording.prompt_count == 1
    assert len(recording) == 2


@needs_data
def test_recording_real_gsm8k_prompt(gsm8k: list[RecordedItem]) -> None:
    recording = Recording(gsm8k)
    target = gsm8k[17]

    assert recording.lookup(target.prompt) == target
    assert recording.lookup("\n" + target.prompt.replace(" ", "   ") + "  ") == target


# --- resolve_data_dir --------------------------------------------------------


@needs_data
def test_resolve_data_dir_accepts_copy() -> None:
    assert resolve_data_dir(str(EVALS)) == EVALS


def test_resolve_data_dir_names_missing_file(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "gsm8k_responses.csv").write_text("prompt\n", encoding="utf-8")

    with pytest.raises(DataError) as caught:
        resolve_data_dir(tmp_path)

    message = str(caught.value)
    assert "gsm8k/contaminated_prompts.jsonl" in message
    assert "--data for demo, eval and train-router" in message
    assert "--replay for ask, serve and chat" in message


def test_resolve_data_dir_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        resolve_data_dir(tmp_path / "absent")


@needs_data
def test_resolve_data_dir_parent_hint() -> None:
    with pytest.raises(DataError, match="pass that directory instead"):
        resolve_data_dir(SHARED_DATA)


# --- Downloader ------------------------------------------------------------


class _Server:
    """A loopback HTTP server over a directory that records each requested path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        handler = functools.partial(_RecordingHandler, self.requests, directory=str(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/evals"
        # A short poll interval keeps shutdown() from waiting the default half second.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class _RecordingHandler(SimpleHTTPRequestHandler):
    def __init__(self, log: list[str], *args: Any, **kwargs: Any) -> None:
        self._log = log
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        self._log.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by http.server
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    """Serve copies of the default files under /evals/ in the upstream layout."""
    root = tmp_path / "served"
    for name in DEFAULT_FILES:
        target = root / "evals" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EVALS / name, target)

    running = _Server(root)
    running.start()
    yield running
    running.stop()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_data
def test_checksum_table_matches_copy() -> None:
    for name, expected in SHA256.items():
        assert _digest(EVALS / name) == expected, name


@needs_data
def test_download_fetches_all_files(tmp_path: Path, server: _Server) -> None:
    cache = tmp_path / "cache"

    returned = ensure_data(cache_dir=cache, base_url=server.base_url)

    assert returned == cache
    assert sorted(server.requests) == sorted(f"/evals/{name}" for name in DEFAULT_FILES)
    for name in DEFAULT_FILES:
        assert _digest(cache / name) == _digest(EVALS / name), name
    assert not list(cache.rglob("*.part"))


@needs_data
def test_download_second_call_is_cached(tmp_path: Path, server: _Server) -> None:
    cache = tmp_path / "cache"
    ensure_data(cache_dir=cache, base_url=server.base_url)
    first_count = len(server.requests)

    ensure_data(cache_dir=cache, base_url=server.base_url)

    assert first_count == len(DEFAULT_FILES)
    assert len(server.requests) == first_count


@needs_data
def test_download_replaces_corrupt_cache(tmp_path: Path, server: _Server) -> None:
    cache = tmp_path / "cache"
    ensure_data(cache_dir=cache, base_url=server.base_url)
    (cache / "mt_bench" / "question.jsonl").write_text("{}\n", encoding="utf-8")
    server.requests.clear()

    ensure_data(cache_dir=cache, base_url=server.base_url)

    assert server.requests == ["/evals/mt_bench/question.jsonl"]
    assert _digest(cache / "mt_bench" / "question.jsonl") == SHA256["mt_bench/question.jsonl"]


@needs_data
def test_download_checksum_mismatch(tmp_path: Path, server: _Server) -> None:
    name = "mt_bench/judgements.jsonl"
    served = server.root / "evals" / name
    altered = bytearray(served.read_bytes())
    altered[100] ^= 0x01
    served.write_bytes(bytes(altered))
    cache = tmp_path / "cache"

    with pytest.raises(DataError) as caught:
        ensure_data(cache_dir=cache, base_url=server.base_url)

    message = str(caught.value)
    assert "judgements.jsonl" in message
    assert SHA256[name] in message
    assert hashlib.sha256(bytes(altered)).hexdigest() in message
    assert not (cache / name).exists()
    assert not list(cache.rglob("*.part"))


@needs_data
def test_download_not_found(tmp_path: Path, server: _Server) -> None:
    (server.root / "evals" / "mt_bench" / "question.jsonl").unlink()
    cache = tmp_path / "cache"

    with pytest.raises(DataError, match="404"):
        ensure_data(cache_dir=cache, base_url=server.base_url)

    assert not (cache / "mt_bench" / "question.jsonl").exists()
    assert not list(cache.rglob("*.part"))


def test_download_connection_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="failed"):
        ensure_data(cache_dir=tmp_path / "cache", base_url=f"http://127.0.0.1:{_closed_port()}")


def test_download_unknown_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no checksum"):
        ensure_data(cache_dir=tmp_path / "cache", files=["gsm8k/other.csv"])


@needs_data
def test_download_uses_environment(
    tmp_path: Path, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "env-cache"
    monkeypatch.setenv("HYBRID_DATA_URL", server.base_url)
    monkeypatch.setenv("HYBRID_CACHE_DIR", str(cache))

    resolved = resolve_data_dir(None)

    assert resolved == cache
    assert len(server.requests) == len(DEFAULT_FILES)
    assert len(load_gsm8k(resolved)) == len(_csv_rows(EVALS / "gsm8k" / "gsm8k_responses.csv"))


@needs_data
def test_download_mmlu_upstream_layout(tmp_path: Path, server: _Server) -> None:
    served = server.root / "evals" / "mmlu" / "responses" / "mmlu_anatomy.csv"
    served.parent.mkdir(parents=True)
    shutil.copyfile(EVALS / "mmlu" / "mmlu_anatomy.csv", served)
    cache = tmp_path / "cache"

    ensure_data(cache_dir=cache, base_url=server.base_url, files=["mmlu/mmlu_anatomy.csv"])

    assert server.requests == ["/evals/mmlu/responses/mmlu_anatomy.csv"]
    assert _digest(cache / "mmlu" / "mmlu_anatomy.csv") == SHA256["mmlu/mmlu_anatomy.csv"]
