"""The `hybrid` command line: a thin shell over the library."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hybrid.calibration_command import add_calibrate_parser
from hybrid.errors import HybridError
from hybrid.evaluation.command import add_eval_parser
from hybrid.output_paths import check_chart_path, check_output_dir, check_output_file, staged_dir

if TYPE_CHECKING:
    from hybrid.pipeline import HybridRouter
    from hybrid.settings import HybridSettings

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2

# `train-router` writes here unless --output names another folder.
DEFAULT_TRAIN_OUTPUT = "hybrid-router"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    try:
        return int(args.handler(args) or 0)
    except HybridError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybrid", description="Route each prompt to the cheapest model that is good enough.")
    parser.add_argument("--settings", metavar="FILE", help="settings file to read (default: ./settings.env if present)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer a prompt through the pipeline")
    ask.add_argument("prompt", help="the prompt text")
    ask.add_argument("--mode", default="hybrid", help="hybrid, router, cascade, parallel, strong or weak (default: hybrid)")
    ask.add_argument("--threshold", type=float, help="route to the strong model when win rate >= this (0-1)")
    ask.add_argument("--replay", metavar="PATH", help="answer from recorded data in PATH (a routellm-evals or RouterBench "
                     "0-shot folder) instead of live providers")
    ask.add_argument("--json", action="store_true", help="print the decision record as JSON")
    ask.set_defaults(handler=_ask)

    route = commands.add_parser("route", help="print the routing decision only; needs no key")
    route.add_argument("prompt", help="the prompt text")
    route.add_argument("--threshold", type=float, help="route to the strong model when win rate >= this (0-1)")
    route.add_argument("--json", action="store_true", help="print JSON")
    route.set_defaults(handler=_route)

    train = commands.add_parser("train-router", help="train a local MF checkpoint on recorded MMLU labels")
    train.add_argument("--data", metavar="PATH", help="routellm-evals folder (default: download to the cache)")
    train.add_argument("--output", metavar="DIR", default=DEFAULT_TRAIN_OUTPUT,
                       help=f"folder to write the checkpoint to, replaced only once training succeeds (default: "
                            f"./{DEFAULT_TRAIN_OUTPUT}); naming a folder of hybrid/checkpoints/ replaces that shipped router")
    train.add_argument("--recipe", help="label recipe: weak_fails, ties_weak, routellm or strong_gain "
                                        "(default: ties_weak with --fit logistic, weak_fails with --fit mf)")
    train.add_argument("--json", action="store_true", help="print the training report as JSON")
    train.add_argument("--fit", choices=["mf", "logistic"], default="mf",
                       help="mf: routellm's MF training on MiniLM embeddings; logistic: one L2-regularised logistic "
                            "regression stored in MF form, as the shipped default is (default: mf)")
    train.add_argument("--embedder", choices=["minilm", "wordllama"],
                       help="with --fit logistic: the prompt embedder (default: wordllama)")
    train.add_argument("--features",
                       help="with --fit logistic: comma-separated prompt features for the feature head, '' for none "
                            "(default: log_chars)")
    train.add_argument("--l2", type=float, help="with --fit logistic: L2 penalty, scikit-learn's 1/C (default: 10)")
    train.set_defaults(handler=_train)

    demo = commands.add_parser("demo", help="compare the routing modes on recorded answers")
    demo.add_argument("--data", metavar="PATH", help="routellm-evals folder (default: download to the cache)")
    demo.add_argument("--routerbench", metavar="PATH", help="RouterBench 0-shot folder; adds its test split with "
                      "always-weak, always-strong, cascade and parallel rows")
    demo.add_argument("--threshold", type=float, help="router threshold (0-1); overrides --strong-share")
    demo.add_argument("--strong-share", type=float, default=0.5,
                      help="per benchmark, the threshold that routes this share of its prompts strong (default: 0.5)")
    demo.add_argument("--benchmark", action="append", choices=["gsm8k", "mt-bench", "routerbench"],
                      help="limit to one benchmark (repeatable); routerbench needs --routerbench")
    demo.add_argument("--mt-bench-cut", type=float, default=8.0, help="replay judge accepts MT-Bench answers scored at least this (1-10)")
    demo.add_argument("--false-accept", type=float, default=0.0, help="share of bad weak answers the replay judge accepts (0-1)")
    demo.add_argument("--false-reject", type=float, default=0.0, help="share of good weak answers the replay judge rejects (0-1)")
    demo.add_argument("--seed", type=int, default=0, help="seed for the judge error draws, the parallel shuffle and "
                      "the RouterBench judge's draw among correct candidates")
    demo.add_argument("--log", metavar="FILE", help="also append every decision record to this JSONL file")
    demo.add_argument("--plot", metavar="PNG", default="hybrid-demo.png", help="save a quality-against-cost chart here (default: hybrid-demo.png; '' to skip)")
    demo.add_argument("--json", action="store_true", help="print the results as JSON")
    demo.set_defaults(handler=_demo)

    serve = commands.add_parser("serve", help="serve an OpenAI-compatible API for every mode")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_port, default=8000, help="TCP port (default: 8000)")
    serve.add_argument("--replay", metavar="PATH", help="serve recorded answers from PATH (a routellm-evals or "
                       "RouterBench 0-shot folder) instead of live providers")
    serve.set_defaults(handler=_serve)

    chat = commands.add_parser("chat", help="serve a local chat page that shows how each answer was routed")
    chat.add_argument("--replay", metavar="PATH", help="answer from recorded data in PATH (a routellm-evals or "
                      "RouterBench 0-shot folder) instead of live providers; only recorded prompts can be answered")
    chat.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    chat.add_argument("--port", type=_port, default=7860, help="TCP port (default: 7860)")
    chat.add_argument("--mode", default="hybrid", help="mode selected when the page opens: hybrid, router, cascade, "
                      "parallel, strong or weak (default: hybrid)")
    chat.set_defaults(handler=_chat)

    add_eval_parser(commands)
    add_calibrate_parser(commands)
    # The shared options work after the command name too, as in `hybrid route --settings FILE "..."`.
    for command in commands.choices.values():
        command.add_argument("--settings", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _port(text: str) -> int:
    """Parse a TCP port for argparse, which reports the ArgumentTypeError message as a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; use an integer from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 1-65535; use a free port such as 8000")
    return port


def _settings(args: argparse.Namespace) -> object:
    from hybrid.settings import load_settings

    return load_settings(args.settings)


def _ask(args: argparse.Namespace) -> int:
    from hybrid.pipeline import HybridRouter

    settings = _settings(args)
    if args.replay:
        router = _replay_router(settings, Path(args.replay))  # type: ignore[arg-type]
    else:
        router = HybridRouter.from_settings(settings)  # type: ignore[arg-type]

    answer = router.ask(args.prompt, mode=args.mode, threshold=args.threshold)
    if args.json:
        print(answer.record.model_dump_json(indent=2))
        return 0

    record = answer.record
    print(answer.text)
    print()
    print(f"model: {answer.model}  route: {record.route or record.mode}  win rate: {_num(record.win_rate)}  "
          f"verdict: {record.verdict or '-'}  fallback: {record.fallback_reason or 'no'}  "
          f"cost: {_dollars(record.total_cost_usd)} (strong only: {_dollars(record.strong_only_cost_usd)})")
    prompt_tokens = sum(stage.prompt_tokens or 0 for stage in record.stages)
    completion_tokens = sum(stage.completion_tokens or 0 for stage in record.stages)
    print(f"calls: {len(record.stages)}  tokens: {prompt_tokens} in, {completion_tokens} out  "
          f"latency: {record.latency_ms:.0f} ms  request: {record.request_id}")
    if args.replay and not _is_routerbench(Path(args.replay)):
        print("replay: the answer was recorded from GPT-4-1106 (strong) or Mixtral-8x7B (weak), and is labelled "
              "and priced as the configured model")
    return 0


def _is_routerbench(path: Path) -> bool:
    from hybrid.replay import router_bench

    return router_bench.is_routerbench_dir(path)


def _replay_router(settings: HybridSettings, path: Path) -> HybridRouter:
    """Build a router over recorded answers: RouterBench when `path` contains its files, else RouteLLM's recordings."""
    from hybrid.decision_log import DecisionLog
    from hybrid.replay import router_bench
    from hybrid.replay.data import resolve_data_dir
    from hybrid.replay.router import load_recording, replay_router

    log = DecisionLog(settings.log_path)
    if router_bench.is_routerbench_dir(path):
        models = list(dict.fromkeys([*router_bench.DEFAULT_TIERS, *router_bench.DEFAULT_CANDIDATES,
                                     router_bench.WEAK_MODEL, router_bench.STRONG_MODEL]))
        recording = router_bench.RouterBenchRecording(router_bench.load_routerbench(path, models=models))
        return router_bench.routerbench_router(settings, recording, log=log)
    return replay_router(settings, load_recording(resolve_data_dir(path)), log=log)


def _serve(args: argparse.Namespace) -> int:
    from hybrid.pipeline import HybridRouter
    from hybrid.server import run_server

    settings = _settings(args)
    if args.replay:
        router = _replay_router(settings, Path(args.replay))  # type: ignore[arg-type]
    else:
        router = HybridRouter.from_settings(settings)  # type: ignore[arg-type]
    run_server(router, host=args.host, port=args.port)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from hybrid.chat_ui import launch, recorded_examples
    from hybrid.pipeline import HybridRouter

    settings = _settings(args)
    if args.replay:
        router = _replay_router(settings, Path(args.replay))  # type: ignore[arg-type]
    else:
        router = HybridRouter.from_settings(settings)  # type: ignore[arg-type]
    print(f"chat page: http://{args.host}:{args.port} (Ctrl+C stops it)", flush=True)
    launch(router, examples=recorded_examples(router), mode=args.mode, replay=bool(args.replay),
           host=args.host, port=args.port)
    return 0


def _route(args: argparse.Namespace) -> int:
    from hybrid.messages import last_user_text, normalize_messages
    from hybrid.predictor import build_predictor, decide

    settings = _settings(args)
    predictor = build_predictor(settings)  # type: ignore[arg-type]
    threshold = args.threshold if args.threshold is not None else settings.threshold  # type: ignore[attr-defined]
    decision = decide(predictor, last_user_text(normalize_messages(args.prompt)), threshold)
    if args.json:
        print(json.dumps({"router": decision.router, "win_rate": decision.win_rate, "threshold": decision.threshold,
                          "route": decision.route.value, "latency_ms": decision.latency_ms}))
    else:
        print(f"route: {decision.route.value}  win rate: {decision.win_rate:.4f}  threshold: {decision.threshold:.4f}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from hybrid.replay.data import resolve_data_dir
    from hybrid.replay.download import DEFAULT_FILES, MMLU_FILES, ensure_data
    from hybrid.training import train_router

    problem = _check_train_arguments(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output)
    check_output_dir(output, "--output")

    data_dir = resolve_data_dir(args.data) if args.data else ensure_data(files=DEFAULT_FILES + MMLU_FILES)
    with staged_dir(output) as staging:
        if args.fit == "logistic":
            from hybrid.embedders import make_embedder
            from hybrid.linear_training import DEFAULT_L2, train_linear_router

            features = [name.strip() for name in (args.features if args.features is not None else "log_chars").split(",")
                        if name.strip()]
            report = train_linear_router(data_dir, staging, make_embedder(args.embedder or "wordllama"),
                                         features=features, recipe=args.recipe or "ties_weak",
                                         l2=args.l2 if args.l2 is not None else DEFAULT_L2, progress=not args.json)
        else:
            report = train_router(data_dir, staging, recipe=args.recipe or "weak_fails", progress=not args.json)
    report = dataclasses.replace(report, output_dir=output)

    scores = [
        {"benchmark": score.benchmark, "prompts": score.prompts, "apgr": score.apgr, "ci_low": score.ci_low,
         "ci_high": score.ci_high, "random_apgr": score.random_apgr}
        for score in report.scores
    ]
    if args.json:
        print(json.dumps({"checkpoint": str(report.output_dir), "recipe": str(report.recipe),
                          "train_prompts": report.train_prompts, "thresholds": report.thresholds,
                          "mean_apgr": report.mean_apgr, "scores": scores}, indent=2))
        return 0

    print(f"checkpoint: {report.output_dir}  recipe: {report.recipe}  training prompts: {report.train_prompts}")
    print(f"{'held-out benchmark':<20} {'prompts':>7} {'APGR':>6} {'90% CI':>15} {'random':>7}")
    for row in scores:
        interval = f"{row['ci_low']:.3f}-{row['ci_high']:.3f}"
        print(f"{row['benchmark']:<20} {row['prompts']:>7} {row['apgr']:>6.3f} {interval:>15} {row['random_apgr']:>7.3f}")
    print(f"thresholds for 20/50/80% strong calls on the training prompts: {report.thresholds}")
    return 0


def _check_train_arguments(args: argparse.Namespace) -> str | None:
    if args.fit == "mf":
        logistic_only = [flag for flag, value in (("--embedder", args.embedder), ("--features", args.features),
                                                  ("--l2", args.l2)) if value is not None]
        if logistic_only:
            return (f"--fit mf does not use {' or '.join(logistic_only)}, which are for --fit logistic; "
                    "--fit mf trains routellm's MF model on MiniLM")
    if args.l2 is not None and not (math.isfinite(args.l2) and args.l2 > 0):
        return f"--l2 {args.l2} must be a positive number such as 10"
    return None


def _demo(args: argparse.Namespace) -> int:
    from hybrid.replay.backends import JudgePolicy
    from hybrid.replay.data import resolve_data_dir
    from hybrid.replay.demo import BENCHMARKS, ROUTERBENCH, run_demo

    try:
        policy = JudgePolicy(mt_bench_cut=args.mt_bench_cut, false_accept=args.false_accept,
                             false_reject=args.false_reject, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.log:
        check_output_file(Path(args.log), "--log")
    if args.plot:
        check_chart_path(Path(args.plot), "--plot")

    chosen = args.benchmark or [*BENCHMARKS, *([ROUTERBENCH] if args.routerbench else [])]
    if ROUTERBENCH in chosen and not args.routerbench:
        print("error: --benchmark routerbench needs --routerbench PATH, the RouterBench 0-shot folder", file=sys.stderr)
        return EXIT_USAGE
    benchmarks = tuple(name for name in chosen if name != ROUTERBENCH)

    results = run_demo(
        _settings(args),  # type: ignore[arg-type]
        resolve_data_dir(args.data) if benchmarks else Path(),
        benchmarks=benchmarks,
        threshold=args.threshold,
        strong_share=args.strong_share,
        policy=policy,
        log_path=Path(args.log) if args.log else None,
        progress=not args.json,
        cascade=True,
        routerbench_dir=Path(args.routerbench) if ROUTERBENCH in chosen else None,
        seed=args.seed,
    )
    if args.plot:
        from hybrid.replay.plot import plot_results

        plot_results(results, Path(args.plot))
    if args.json:
        print(json.dumps([result.as_dict() for result in results], indent=2))
        return 0

    header = f"{'benchmark':<11} {'policy':<14} {'prompts':>7} {'strong %':>9} {'accept %':>9} {'fallback %':>10} {'quality':>8} {'cost $':>9} {'$ / 1k':>8}"
    print(header)
    print("-" * len(header))
    for result in results:
        accept = "-" if result.accept_rate is None else f"{result.accept_rate:.1%}"
        print(f"{result.benchmark:<11} {result.policy:<14} {result.prompts:>7} {result.strong_share:>9.1%} {accept:>9} "
              f"{result.fallback_rate:>10.1%} {result.quality:>8.3f} {_usd(result.cost_usd):>9} {_usd(result.cost_per_1k_usd):>8}")
    print("\ncalls per prompt and share of answers, by model:")
    for result in results:
        calls = ", ".join(f"{model} {share:.0%}" for model, share in result.call_share.items())
        answers = ", ".join(f"{model} {share:.0%}" for model, share in result.answer_share.items())
        print(f"  {result.benchmark} {result.policy}: calls {calls}; answers {answers}")
    print("\nquality: GSM8K and RouterBench accuracy; MT-Bench mean GPT-4 score (1-10). GSM8K and MT-Bench costs "
          "price each call as the configured model; RouterBench costs are the recorded bills.")
    if args.plot:
        print(f"chart: {args.plot}")
    return 0


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4f}"


def _dollars(value: float | None) -> str:
    """Format one request's cost, which is often below a hundredth of a cent, to the millionth of a dollar."""
    return "unknown" if value is None else f"${value:.6f}"


if __name__ == "__main__":
    raise SystemExit(main())
