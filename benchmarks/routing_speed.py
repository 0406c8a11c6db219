"""Routing latency: per-decision p50/p99, batched throughput, import time, time to first decision,
event-loop lag while routing, and stock routellm `Controller.route` on the same checkpoint and embedder.

Run from the repository root, with the recorded data next to it:

    python benchmarks/routing_speed.py --data ../shared/data/routellm-evals

Every number comes from this one run, so ratios compare like with like. No
network is used: routellm's OpenAI embedding client is replaced by one that
returns the same local embedder's vectors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PAIR = ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
ROUTERS = ("mf-wordllama-length", "mf-wordllama", "mf-minilm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "routellm-evals")
    parser.add_argument("--decisions", type=int, default=1000, help="single-prompt decisions timed per router")
    parser.add_argument("--routellm-decisions", type=int, default=300, help="decisions timed through routellm")
    parser.add_argument("--batch", type=int, default=2000, help="prompts per batched call")
    parser.add_argument("--json-out", type=Path, help="also write the results here")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    prompts = _prompts(args.data)
    results: dict[str, object] = {"cpus": os.cpu_count(), "prompts_pool": len(prompts)}

    results["import_hybrid_s"] = _median_subprocess("import hybrid", runs=5)
    results["first_decision_s"] = _median_subprocess(
        "from hybrid.predictor import build_predictor, decide\n"
        "from hybrid.settings import load_settings\n"
        "decide(build_predictor(load_settings()), 'How many legs does a spider have?', None)", runs=3)

    from hybrid.evaluation.routers import load_router
    from hybrid.predictor import decide

    per_router = {}
    for name in ROUTERS:
        _, predictor = load_router(name)
        single = prompts[: args.decisions]
        for prompt in single[:50]:
            decide(predictor, prompt, 0.5)
        latencies = _time_each(lambda prompt: decide(predictor, prompt, 0.5), single)

        batch = (prompts * (args.batch // len(prompts) + 1))[: args.batch]
        started = time.perf_counter()
        predictor.win_rates(batch)
        batch_seconds = time.perf_counter() - started

        per_router[name] = {
            "embedder": predictor.embedder.name,
            "p50_ms": _percentile(latencies, 50),
            "p99_ms": _percentile(latencies, 99),
            "batched_prompts_per_s": len(batch) / batch_seconds,
        }
    results["routers"] = per_router
    results["loop_lag"] = _loop_lag(prompts[:300])
    results["routellm"] = _routellm_side_by_side(prompts[: args.routellm_decisions])

    _print(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")


def _prompts(data_dir: Path) -> list[str]:
    """Recorded prompts of every length: held-out MMLU, GSM8K and MT-Bench, interleaved."""
    from hybrid.evaluation.datasets import load_routellm_sets

    sets = load_routellm_sets(data_dir)
    pools = [sets[0].prompts, sets[2].prompts, sets[3].prompts * 10]
    mixed = [prompt for group in zip(*pools) for prompt in group]
    np.random.default_rng(0).shuffle(mixed)
    return mixed


def _time_each(function: Callable[[str], object], prompts: Sequence[str]) -> list[float]:
    latencies = []
    for prompt in prompts:
        started = time.perf_counter()
        function(prompt)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _percentile(values: Sequence[float], percent: float) -> float:
    return float(np.percentile(values, percent))


def _median_subprocess(code: str, *, runs: int) -> float:
    """Run `code` in fresh interpreters and return the median wall time of the code itself, in seconds."""
    timed = f"import time\nstarted = time.perf_counter()\n{code}\nprint(time.perf_counter() - started)\n"
    values = []
    for _ in range(runs):
        output = subprocess.run([sys.executable, "-c", timed], capture_output=True, text=True, check=True, cwd=REPO)
        values.append(float(output.stdout.strip().splitlines()[-1]))
    return statistics.median(values)


def _loop_lag(prompts: Sequence[str]) -> dict[str, float]:
    """Route prompts through `HybridRouter.aroute` while a 1 ms ticker measures how late the loop wakes it."""
    from hybrid.pipeline import HybridRouter
    from hybrid.settings import load_settings

    router = HybridRouter.from_settings(load_settings(log_path=Path(os.devnull)))
    lags: list[float] = []

    async def run() -> None:
        done = asyncio.Event()

        async def tick() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await asyncio.sleep(0.001)
                lags.append((time.perf_counter() - started - 0.001) * 1000)

        ticker = asyncio.create_task(tick())
        for prompt in prompts:
            await router.aroute(prompt, threshold=0.5)
        done.set()
        await ticker

    asyncio.run(run())
    return {"ticks": len(lags), "p50_ms": _percentile(lags, 50), "p99_ms": _percentile(lags, 99), "max_ms": max(lags)}


def _routellm_side_by_side(prompts: Sequence[str]) -> dict[str, object]:
    """Time hybrid's `decide` and routellm's `Controller.route` on the same embedding-only checkpoints."""
    # routellm builds OpenAI clients when its routers module is imported, so a placeholder key and a
    # loopback URL let that import succeed. The embedding client is replaced below before any request.
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-placeholder")
    os.environ.setdefault("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")

    from hybrid.evaluation.routers import load_router
    from hybrid.mf import mf_model_class
    from hybrid.predictor import CHECKPOINTS_DIR, decide

    mf_model_class()
    from routellm.controller import Controller
    module = sys.modules["routellm.routers.matrix_factorization.model"]

    comparison = {}
    for name in ("mf-wordllama", "mf-minilm"):
        _, predictor = load_router(name)
        embedder = predictor.embedder

        def create(*, input: list[str], model: str, embedder: object = embedder) -> SimpleNamespace:
            vector = embedder.embed(input)[0]
            return SimpleNamespace(data=[SimpleNamespace(embedding=vector.tolist())])

        module.OPENAI_CLIENT = SimpleNamespace(embeddings=SimpleNamespace(create=create))
        controller = Controller(routers=["mf"], strong_model=PAIR[0], weak_model=PAIR[1],
                                config={"mf": {"checkpoint_path": str(CHECKPOINTS_DIR / name), "text_dim": embedder.dim}})

        agreement = np.mean([
            (controller.route(prompt, "mf", predictor.default_threshold) == PAIR[0])
            == (decide(predictor, prompt, predictor.default_threshold).route.value == "strong")
            for prompt in prompts[:100]
        ])
        for prompt in prompts[:30]:
            controller.route(prompt, "mf", 0.5)
            decide(predictor, prompt, 0.5)

        # Interleave the two so that background load affects both alike.
        ours: list[float] = []
        theirs: list[float] = []
        for prompt in prompts:
            ours += _time_each(lambda text: decide(predictor, text, 0.5), [prompt])
            theirs += _time_each(lambda text: controller.route(text, "mf", 0.5), [prompt])

        comparison[name] = {
            "hybrid_p50_ms": _percentile(ours, 50), "hybrid_p99_ms": _percentile(ours, 99),
            "routellm_p50_ms": _percentile(theirs, 50), "routellm_p99_ms": _percentile(theirs, 99),
            "p50_ratio_routellm_over_hybrid": _percentile(theirs, 50) / _percentile(ours, 50),
            "same_route_share": float(agreement),
        }
    return comparison


def _print(results: dict[str, object]) -> None:
    print(f"CPUs: {results['cpus']}; prompt pool: {results['prompts_pool']} recorded prompts")
    print(f"import hybrid: {results['import_hybrid_s'] * 1000:.0f} ms (median of 5 fresh interpreters)")
    print(f"time to first decision (import, load, embed, score): {results['first_decision_s']:.2f} s (median of 3)")
    print()
    print("| router | embedder | p50 ms | p99 ms | batched prompts/s |")
    print("|---|---|---|---|---|")
    for name, row in results["routers"].items():  # type: ignore[union-attr]
        print(f"| {name} | {row['embedder']} | {row['p50_ms']:.3f} | {row['p99_ms']:.3f} | {row['batched_prompts_per_s']:,.0f} |")
    lag = results["loop_lag"]
    print()
    print(f"event loop while routing 300 prompts with aroute: {lag['ticks']} ticks of 1 ms, lag p50 {lag['p50_ms']:.3f} ms, "  # type: ignore[index]
          f"p99 {lag['p99_ms']:.3f} ms, max {lag['max_ms']:.3f} ms")  # type: ignore[index]
    print()
    print("| checkpoint | hybrid p50 ms | hybrid p99 ms | routellm p50 ms | routellm p99 ms | routellm / hybrid (p50) | same route |")
    print("|---|---|---|---|---|---|---|")
    for name, row in results["routellm"].items():  # type: ignore[union-attr]
        print(f"| {name} | {row['hybrid_p50_ms']:.3f} | {row['hybrid_p99_ms']:.3f} | {row['routellm_p50_ms']:.3f} | "
              f"{row['routellm_p99_ms']:.3f} | {row['p50_ratio_routellm_over_hybrid']:.1f}x | {row['same_route_share']:.0%} |")


if __name__ == "__main__":
    main()
