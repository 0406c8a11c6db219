"""The `hybrid calibrate` subcommand: thresholds from the user's own prompts, labels and decision logs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_calibrate_parser", "run_calibrate"]

EXIT_USAGE = 2


def add_calibrate_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `calibrate` to the CLI's subcommands."""
    parser = commands.add_parser(
        "calibrate", help="pick the router threshold (and judge cut) from your own prompts",
        description="Score your prompts with the configured router, or read the win rates a decision log recorded, "
                    "and print the threshold that sends a share of them to the strong model. With --labels, print "
                    "the threshold that reaches a target quality at minimum cost.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompts", metavar="FILE", help="JSONL or CSV with a 'prompt' or 'win_rate' per row, or a "
                        "hybrid decision log")
    source.add_argument("--labels", metavar="FILE", help="JSONL or CSV with 'prompt' or 'win_rate', 'strong_quality' and "
                        "'weak_quality' per row; optional 'judge_score', 'strong_cost', 'weak_cost' and 'judge_cost'")
    parser.add_argument("--strong-pct", type=float, metavar="P",
                        help="share of the prompts to send to the strong model, as a fraction in (0, 1) such as 0.3")
    parser.add_argument("--threshold", type=float, help="also report what this threshold (0-1) does on the file")
    parser.add_argument("--target-quality", type=float, metavar="Q",
                        help="with --labels: the mean quality to reach, in the labels' unit")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run_calibrate)
    return parser


def run_calibrate(args: argparse.Namespace) -> int:
    """Print the calibrated thresholds that `args` requests."""
    from hybrid.calibration import calibrate_hybrid, strong_share_at, threshold_for_quality, threshold_for_strong_share
    from hybrid.calibration_data import read_calibration_file

    problem = _check_arguments(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE

    rows = read_calibration_file(args.labels or args.prompts, labelled=bool(args.labels))
    win_rates = rows.win_rates if rows.win_rates is not None else _score(args, rows.prompts or [])
    result: dict[str, Any] = {"file": str(rows.source), "prompts": int(win_rates.size), "skipped_records": rows.skipped,
                              "win_rates_from": "file" if rows.win_rates is not None else "router"}

    if args.strong_pct is not None:
        result["strong_pct"] = args.strong_pct
        result["threshold_for_strong_pct"] = threshold_for_strong_share(win_rates, args.strong_pct)
        result["strong_share_at_calibrated_threshold"] = strong_share_at(win_rates, result["threshold_for_strong_pct"])
    if args.threshold is not None:
        result["threshold"] = args.threshold
        result["strong_share_at_threshold"] = strong_share_at(win_rates, args.threshold)
    if args.labels:
        labels = rows.labels
        costs = {"strong_cost": labels.get("strong_cost"), "weak_cost": labels.get("weak_cost")}
        router = threshold_for_quality(win_rates, labels["strong_quality"], labels["weak_quality"],
                                       args.target_quality, **costs)
        result["target_quality"] = args.target_quality
        result["router_only"] = vars(router)
        if "judge_score" in labels:
            hybrid = calibrate_hybrid(win_rates, labels["strong_quality"], labels["weak_quality"],
                                      labels["judge_score"], args.target_quality, judge_cost=labels.get("judge_cost"),
                                      **costs)
            result["hybrid"] = vars(hybrid)

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_text(result)
    return 0


def _check_arguments(args: argparse.Namespace) -> str | None:
    if args.strong_pct is not None and not 0.0 < args.strong_pct < 1.0:
        return f"--strong-pct {args.strong_pct} is outside (0, 1); pass a fraction such as 0.3 for 30%"
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        return f"--threshold {args.threshold} is outside [0, 1]; pass a win rate such as 0.5"
    if args.labels and args.target_quality is None:
        return "--labels needs --target-quality, the mean quality to reach (for example 0.85 for 85% accuracy)"
    if args.target_quality is not None and not args.labels:
        return "--target-quality needs --labels FILE with 'strong_quality' and 'weak_quality' per prompt"
    if args.prompts and args.strong_pct is None and args.threshold is None:
        return "--prompts needs --strong-pct P (the share to send strong) or --threshold T (to re-score the file)"
    return None


def _score(args: argparse.Namespace, prompts: list[str]) -> Any:
    from hybrid.predictor import build_predictor
    from hybrid.settings import load_settings

    predictor = build_predictor(load_settings(args.settings))
    return predictor.win_rates(prompts, progress=not args.json)


def _print_text(result: dict[str, Any]) -> None:
    print(f"{result['prompts']} prompts from {result['file']} (win rates from the {result['win_rates_from']})")
    if result["skipped_records"]:
        print(f"skipped {result['skipped_records']} decision records without a win rate")
    if "threshold_for_strong_pct" in result:
        print(f"threshold for {result['strong_pct']:.1%} strong: {result['threshold_for_strong_pct']:.6f}")
        reached = result["strong_share_at_calibrated_threshold"]
        # Only ties at the threshold move the reached share by more than one prompt's worth.
        if abs(reached - result["strong_pct"]) > 1.0 / result["prompts"]:
            print(f"note: tied win rates make this threshold send {reached:.1%} of these prompts to the strong model, "
                  f"not {result['strong_pct']:.1%}; no threshold splits prompts with equal win rates")
    if "strong_share_at_threshold" in result:
        print(f"threshold {result['threshold']:.6f} sends {result['strong_share_at_threshold']:.1%} to the strong model")
    if "router_only" in result:
        router = result["router_only"]
        print(f"router only, target quality {result['target_quality']}: threshold {router['threshold']:.6f} gives "
              f"quality {router['quality']:.4f} at cost {router['cost']:.6g} per prompt ({router['strong_share']:.1%} strong)")
    if "hybrid" in result:
        hybrid = result["hybrid"]
        print(f"hybrid: threshold {hybrid['threshold']:.6f} and judge cut {hybrid['judge_cut']:.6g} give quality "
              f"{hybrid['quality']:.4f} at cost {hybrid['cost']:.6g} per prompt ({hybrid['strong_share']:.1%} strong "
              f"calls, {hybrid['accept_rate']:.1%} of weak answers accepted)")
    if "router_only" in result or "hybrid" in result:
        print("costs are in the labels' cost unit, or the strong-call share when the file has no costs")
