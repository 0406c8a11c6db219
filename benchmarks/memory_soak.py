"""Memory over 10,000 hybrid requests with a bounded number in flight, on replayed answers.

Runs the real pipeline (cached predictor, replay weak/strong/judge backends,
decision log on disk) over GSM8K prompts in a loop and samples the resident set
size. Prints RSS after each block and the growth from the first block to the
last, which should stay small relative to the baseline once caches are warm.

    python benchmarks/memory_soak.py [--requests 10000] [--in-flight 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from hybrid.decision_log import DecisionLog  # noqa: E402
from hybrid.predictor import CachedPredictor, build_predictor  # noqa: E402
from hybrid.replay.data import load_gsm8k, resolve_data_dir  # noqa: E402
from hybrid.replay.router import load_recording, replay_router  # noqa: E402
from hybrid.settings import load_settings  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "routellm-evals"


def rss_mib() -> float:
    """Resident set size of this process in MiB, from /proc."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def soak(router: object, prompts: list[str], total: int, in_flight: int, blocks: int) -> list[tuple[int, float, float]]:
    semaphore = asyncio.Semaphore(in_flight)
    samples: list[tuple[int, float, float]] = []
    per_block = total // blocks
    started = time.perf_counter()

    async def one(index: int) -> None:
        async with semaphore:
            await router.aask(prompts[index % len(prompts)], threshold=0.5)  # type: ignore[attr-defined]

    for block in range(blocks):
        await asyncio.gather(*(one(block * per_block + i) for i in range(per_block)))
        samples.append(((block + 1) * per_block, rss_mib(), time.perf_counter() - started))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="number of requests (default 10,000)")
    parser.add_argument("--in-flight", type=int, default=64, help="most requests running at once (default 64)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="routellm-evals folder")
    args = parser.parse_args()

    data_dir = resolve_data_dir(args.data)
    prompts = [item.prompt for item in load_gsm8k(data_dir) if not item.contaminated]
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(log_path=Path(folder) / "log.jsonl")
        predictor = CachedPredictor(build_predictor(settings))
        predictor.prefill(prompts, progress=True)
        router = replay_router(settings, load_recording(data_dir), predictor=predictor,
                               log=DecisionLog(settings.log_path))

        baseline = rss_mib()
        samples = asyncio.run(soak(router, prompts, args.requests, args.in_flight, blocks=10))
        lines = sum(1 for _ in open(settings.log_path))

    print(f"baseline RSS after loading: {baseline:.0f} MiB")
    for done, rss, elapsed in samples:
        print(f"{done:>6} requests  RSS {rss:7.1f} MiB  {elapsed:6.1f} s")
    growth = samples[-1][1] - samples[0][1]
    print(f"decision log lines: {lines} (expected {samples[-1][0]})")
    print(f"RSS growth from the first block to the last: {growth:+.1f} MiB "
          f"({growth / samples[0][1]:+.1%} of the first block's RSS)")
    return 0 if lines == samples[-1][0] else 1


if __name__ == "__main__":
    raise SystemExit(main())
