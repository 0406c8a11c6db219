"""Pipeline overhead: `HybridRouter.aask` on the weak-accepted path against the bare HTTP calls it makes.

A loopback provider on 127.0.0.1 replies at once. One `aask` routes, calls the
weak model and the judge, parses the verdict and writes the decision record and
its log line. The same weak and judge calls made directly through the same
clients take the rest, so the difference is what hybrid adds per request. Both
are timed in the same run, interleaved.

Run from the repository root:

    python benchmarks/pipeline_overhead.py

The loopback provider is the test suite's FakeProvider, imported from tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEAK_WIRE_MODEL = "openai/gpt-oss-20b"
JUDGE_MODEL = "openai/gpt-oss-120b"
GROQ_PATH = "/openai/v1/chat/completions"
PROMPT = "What is the capital of Australia, and why was it chosen over Sydney and Melbourne?"
ANSWER = "Canberra. It was chosen as a compromise between Sydney and Melbourne, the two largest cities."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests of each kind")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests of each kind first")
    parser.add_argument("--json-out", type=Path, help="also write the results here")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # LiteLLM logs one INFO line per completion, which would bury the results.
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    sys.path.insert(0, str(REPO / "tests"))
    from fakeprovider import FakeProvider

    with FakeProvider() as provider, tempfile.TemporaryDirectory() as folder:
        provider.reply(ANSWER, model=WEAK_WIRE_MODEL, path=GROQ_PATH)
        provider.verdict("accept", "correct", model=JUDGE_MODEL, path=GROQ_PATH)
        results = asyncio.run(_measure(provider.url, Path(folder), args.requests, args.warmup))
        provider.reset()

    _print(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")


async def _measure(url: str, folder: Path, requests: int, warmup: int) -> dict[str, float]:
    from hybrid.judge import build_judge_messages
    from hybrid.pipeline import HybridRouter
    from hybrid.settings import load_settings

    settings = load_settings(groq_base_url=url, groq_api_key="gsk-benchmark-placeholder",
                             openai_base_url=url + "/v1", openai_api_key="sk-benchmark-placeholder",
                             log_path=folder / "decisions.jsonl")
    router = HybridRouter.from_settings(settings)
    messages = [{"role": "user", "content": PROMPT}]

    async def pipeline() -> None:
        answer = await router.aask(PROMPT, threshold=1.0)
        if answer.record.verdict != "accept" or answer.record.fallback:
            raise RuntimeError(f"the benchmark expects the weak-accepted path, got {answer.record}")

    async def bare() -> None:
        weak = await router.weak.complete(messages, timeout=settings.weak_timeout)
        judge_messages = build_judge_messages(PROMPT, weak.text, language=settings.judge_language)
        await router.judge.judge(judge_messages, timeout=settings.judge_timeout)

    for _ in range(warmup):
        await pipeline()
        await bare()

    pipeline_ms: list[float] = []
    bare_ms: list[float] = []
    for _ in range(requests):
        pipeline_ms.append(await _timed(pipeline))
        bare_ms.append(await _timed(bare))

    return {
        "requests": requests,
        "pipeline_median_ms": statistics.median(pipeline_ms),
        "bare_median_ms": statistics.median(bare_ms),
        "pipeline_mean_ms": statistics.fmean(pipeline_ms),
        "bare_mean_ms": statistics.fmean(bare_ms),
        "added_median_ms": statistics.median(pipeline_ms) - statistics.median(bare_ms),
        "ratio_median": statistics.median(pipeline_ms) / statistics.median(bare_ms),
    }


async def _timed(function) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    await function()
    return (time.perf_counter() - started) * 1000


def _print(results: dict[str, float]) -> None:
    print(f"{results['requests']} requests each, weak answer accepted, loopback provider")
    print("| path | median ms | mean ms |")
    print("|---|---|---|")
    print(f"| aask (route, weak, judge, record, log) | {results['pipeline_median_ms']:.2f} | {results['pipeline_mean_ms']:.2f} |")
    print(f"| bare weak + judge calls, same clients | {results['bare_median_ms']:.2f} | {results['bare_mean_ms']:.2f} |")
    print(f"added by the pipeline: {results['added_median_ms']:.2f} ms per request (median), "
          f"ratio {results['ratio_median']:.2f}x")


if __name__ == "__main__":
    main()
