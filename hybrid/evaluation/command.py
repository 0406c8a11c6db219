"""The `hybrid eval` subcommand: arguments and the handler that prints, saves and plots the evaluation."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_eval_parser", "run_eval"]

logger = logging.getLogger("hybrid.evaluation")

EXIT_USAGE = 2


def add_eval_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `eval` to the CLI's subcommands."""
    parser = commands.add_parser(
        "eval", help="score routers, the hybrid pipeline, random and the oracle on recorded benchmarks",
        description="Compute RouteLLM's metrics (APGR, CPT(50%), CPT(80%)) with bootstrap intervals, against "
                    "strong-call share and dollar cost, on decontaminated recorded benchmarks.",
    )
    parser.add_argument("--data", metavar="PATH", help="routellm-evals folder (default: download to the cache)")
    parser.add_argument("--routerbench", metavar="PATH", help="RouterBench 0-shot folder; adds its ARC-Challenge, MBPP "
                        "and Winogrande test splits")
    parser.add_argument("--benchmark", action="append", metavar="NAME",
                        help="limit to a benchmark (repeatable): mmlu_held_out, mmlu_held_out_with_hs_math, gsm8k, "
                             "mt_bench, routerbench_arc-challenge, routerbench_mbpp, routerbench_winogrande")
    parser.add_argument("--router", action="append", metavar="NAME_OR_DIR",
                        help="router to evaluate (repeatable): a shipped checkpoint name or a checkpoint folder "
                             "(default: every shipped checkpoint, the default one first)")

    parser.add_argument("--no-hybrid", action="store_true", help="skip the hybrid pipeline replay")
    parser.add_argument("--no-modes", action="store_true",
                        help="skip the cascade and parallel modes, which are replayed once each as single points "
                             "(GSM8K cascade; RouterBench cascade and parallel)")
    parser.add_argument("--judge-false-accept", type=float, default=0.0,
                        help="share of bad weak answers the replay judge accepts (0-1, default 0)")
    parser.add_argument("--judge-false-reject", type=float, default=0.0,
                        help="share of good weak answers the replay judge rejects (0-1, default 0)")
    parser.add_argument("--mt-bench-cut", type=float, default=None,
                        help="lowest GPT-4 score (1-10) the replay judge accepts on MT-Bench (default 8)")

    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per interval (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap, the random router and judge errors")

    parser.add_argument("--cache", metavar="DIR", help="keep prompt embeddings in DIR and reuse them in later runs")
    parser.add_argument("--json-out", metavar="FILE", default="hybrid-eval.json",
                        help="write the results as JSON here (default: hybrid-eval.json; '' to skip)")
    parser.add_argument("--plot", metavar="PNG", default="hybrid-eval.png",
                        help="save the quality-against-cost chart here (default: hybrid-eval.png; '' to skip)")
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of the table")
    parser.set_defaults(handler=run_eval)
    return parser


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation that `args` describes, print the table and write the JSON file and the chart."""
    from hybrid.evaluation.datasets import BENCHMARK_NAMES, ROUTERBENCH_PREFIX, load_eval_sets
    from hybrid.evaluation.harness import EvalOptions, evaluate
    from hybrid.evaluation.replay import JudgeNoise
    from hybrid.evaluation.report import format_table, to_json
    from hybrid.evaluation.routers import load_routers, shipped_router_names
    from hybrid.output_paths import check_chart_path, check_output_file
    from hybrid.predictor import SHIPPED_CHECKPOINT
    from hybrid.settings import load_settings

    try:
        noise = JudgeNoise(false_accept=args.judge_false_accept, false_reject=args.judge_false_reject, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.resamples < 1:
        print(f"error: --resamples {args.resamples} must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.mt_bench_cut is not None and not 1.0 <= args.mt_bench_cut <= 10.0:
        print(f"error: --mt-bench-cut {args.mt_bench_cut} is outside 1-10; pass a GPT-4 score such as 8", file=sys.stderr)
        return EXIT_USAGE

    benchmarks = args.benchmark or [name for name in BENCHMARK_NAMES
                                    if args.routerbench or not name.startswith(ROUTERBENCH_PREFIX)]
    unknown = [name for name in benchmarks if name not in BENCHMARK_NAMES]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; use one of {', '.join(BENCHMARK_NAMES)}", file=sys.stderr)
        return EXIT_USAGE
    if any(name.startswith(ROUTERBENCH_PREFIX) for name in benchmarks) and not args.routerbench:
        print("error: RouterBench benchmarks need --routerbench PATH, the RouterBench 0-shot folder", file=sys.stderr)
        return EXIT_USAGE

    if args.json_out:
        check_output_file(Path(args.json_out), "--json-out")
    if args.plot:
        check_chart_path(Path(args.plot), "--plot")

    settings = load_settings(args.settings)
    names = args.router or _default_routers(SHIPPED_CHECKPOINT.name, shipped_router_names())
    routers = load_routers(names, cache_dir=Path(args.cache) if args.cache else None)

    routellm_dir = _routellm_dir(args.data) if any(not name.startswith(ROUTERBENCH_PREFIX) for name in benchmarks) else None
    datasets = load_eval_sets(routellm_dir, Path(args.routerbench) if args.routerbench else None, benchmarks)

    options = EvalOptions(resamples=args.resamples, seed=args.seed, hybrid=not args.no_hybrid, judge_noise=noise,
                          mt_bench_cut=args.mt_bench_cut)
    results = evaluate(datasets, routers, settings, options, progress=not args.json)
    modes = [] if args.no_modes else _evaluate_modes(args, settings, routellm_dir, benchmarks, routers)

    context = {
        "strong_model": settings.strong_model,
        "weak_model": settings.weak_model,
        "judge_model": settings.judge_model,
        "routers": {name: {"checkpoint": predictor.checkpoint.source, "embedder": predictor.embedder.name}
                    for name, predictor in routers.items()},
        "resamples": args.resamples,
        "seed": args.seed,
        "judge_false_accept": args.judge_false_accept,
        "judge_false_reject": args.judge_false_reject,
        "mt_bench_cut": args.mt_bench_cut,
    }
    document = to_json(results, context=context, modes=modes)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(document + "\n", encoding="utf-8")
    if args.plot:
        from hybrid.evaluation.plot import plot_evaluation

        plot_evaluation(results, Path(args.plot), modes)

    if args.json:
        print(document)
        return 0
    print(format_table(results, modes=modes))
    if args.json_out:
        print(f"\nJSON: {args.json_out}")
    if args.plot:
        print(f"chart: {args.plot}")
    return 0


def _evaluate_modes(args: argparse.Namespace, settings: Any, routellm_dir: Path | None, benchmarks: list[str],
                    routers: dict[str, Any]) -> list[Any]:
    """Replay the cascade and parallel modes on the selected benchmarks that have them."""
    from hybrid.evaluation.datasets import GSM8K, ROUTERBENCH_PREFIX
    from hybrid.evaluation.modes import evaluate_modes

    with_routerbench = args.routerbench and any(name.startswith(ROUTERBENCH_PREFIX) for name in benchmarks)
    return evaluate_modes(
        settings,
        routellm_dir=routellm_dir if GSM8K in benchmarks else None,
        routerbench_dir=Path(args.routerbench) if with_routerbench else None,
        predictor=next(iter(routers.values()), None),
        seed=args.seed,
    )


def _default_routers(default: str, shipped: list[str]) -> list[str]:
    return [default, *(name for name in shipped if name != default)]


def _routellm_dir(data: str | None) -> Path:
    from hybrid.replay.data import resolve_data_dir
    from hybrid.replay.download import DEFAULT_FILES, MMLU_FILES, ensure_data

    return resolve_data_dir(data) if data else ensure_data(files=DEFAULT_FILES + MMLU_FILES)
