"""The evaluation's console table and JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hybrid.evaluation.curves import CPT_FRACTIONS, Interval
from hybrid.evaluation.harness import BenchmarkResult
from hybrid.evaluation.modes import ModePoint, ModeSet
from hybrid.evaluation.published import PUBLISHED_MF, PUBLISHED_SOURCE

__all__ = ["format_table", "to_json"]


def format_table(results: Sequence[BenchmarkResult], *, confidence: float = 0.9,
                 modes: Sequence[ModeSet] = ()) -> str:
    """Render every benchmark as a block of rows, one per method, then the published figures.

    Each mode point is a row of its benchmark's block, or of its own block when
    no curve method ran on that benchmark.
    """
    lines: list[str] = []
    percent = f"{confidence:.0%}"
    header = (f"{'method':<30} {'APGR':>6} {percent + ' CI':>13} {'CPT(50%)':>9} {percent + ' CI':>13} "
              f"{'CPT(80%)':>9} {percent + ' CI':>13} {'$/1k @50%':>10} {'$/1k @80%':>10}  vs random")
    modes_by_benchmark = {mode_set.benchmark: mode_set for mode_set in modes}
    for result in results:
        lines += _benchmark_header(result, percent)
        lines += [header, "-" * len(header)]
        for method in result.methods:
            metrics = method.metrics
            cells = [f"{method.method:<30}", f"{metrics.apgr.value:>6.3f}", f"{_range(metrics.apgr):>13}"]
            for fraction in CPT_FRACTIONS:
                interval = metrics.cpt_share[fraction]
                cells += [f"{_share(interval.value):>9}", f"{_range(interval, share=True):>13}"]
            for fraction in CPT_FRACTIONS:
                cost = None if metrics.cpt_cost_usd is None else metrics.cpt_cost_usd[fraction].value
                cells.append(f"{_usd_per_1k(cost):>10}")
            verdict = "above" if method.above_random else "overlaps"
            cells.append(f" {verdict if method.kind in ('router', 'hybrid') else '-'}")
            lines.append(" ".join(cells))
        mode_set = modes_by_benchmark.pop(result.benchmark, None)
        if mode_set is not None:
            lines += [_point_row(point, mode_set.strong_model, len(header)) for point in mode_set.points]
        lines.append("")

    for mode_set in modes_by_benchmark.values():
        lines += _mode_set_header(mode_set)
        lines += [header, "-" * len(header)]
        lines += [_point_row(point, mode_set.strong_model, len(header)) for point in mode_set.points]
        lines.append("")

    lines.append(f"Published RouteLLM `mf` APGR, from {PUBLISHED_SOURCE}:")
    for figure in PUBLISHED_MF:
        lines.append(f"  {figure.benchmark:<16} {figure.apgr:.3f}  ({figure.note})")
    lines.append("")
    lines.append(
        f"APGR and CPT intervals are {percent} bootstrap intervals over prompts. 'vs random' is 'above' only when the "
        f"method's APGR interval lies wholly above the central {percent} of random routers' APGRs on the same prompts; "
        "two methods whose intervals overlap are not shown to differ. The 'random' row is one random router, with its "
        "curve and dollar figures; the line above each table summarises 1,000 of them, so the two APGRs differ. "
        "CPT is the strong-call share, and '$/1k' the mean "
        "cost per 1,000 prompts, needed to recover 50% or 80% of the quality gap ('never' when the curve does not get there)."
    )
    if modes:
        lines.append(
            "Rows marked 'point' are modes without a threshold, run once on the same recorded answers: they have no "
            "curve, so APGR and CPT are left empty. 'strong' is the share of prompts that called the strong model, "
            "and 'calls' the share of prompts that called each model."
        )
    return "\n".join(lines)


def to_json(results: Sequence[BenchmarkResult], *, context: dict[str, Any], modes: Sequence[ModeSet] = ()) -> str:
    """Return the results, the mode points, the published figures and `context` (models, routers, options) as JSON.

    `modes` contains one entry per benchmark with mode points. Its points carry
    no APGR or CPT because a mode without a threshold has no curve.
    """
    document = {
        "context": context,
        "benchmarks": [_jsonable(asdict(result)) for result in results],
        "modes": [_jsonable(asdict(mode_set)) for mode_set in modes],
        "published_routellm_mf": {
            "source": PUBLISHED_SOURCE,
            "apgr": [asdict(figure) for figure in PUBLISHED_MF],
        },
    }
    return json.dumps(document, indent=2, allow_nan=False)


def _benchmark_header(result: BenchmarkResult, percent: str) -> list[str]:
    lines = [
        f"{result.benchmark}: {result.prompts} prompts; {result.quality_metric}: strong {result.strong_quality:.3f}, "
        f"weak {result.weak_quality:.3f}"
    ]
    if result.cost_source is not None:
        lines.append(f"  cost per 1,000 prompts in USD ({result.cost_source}): strong {result.strong_cost_per_1k_usd:.3f}, "
                     f"weak {result.weak_cost_per_1k_usd:.3f}")
    spread = result.random_spread
    lines.append(f"  random routers' APGR on these prompts: mean {spread.value:.3f}, central {percent} {spread.low:.3f}-{spread.high:.3f}")
    if result.judge_accept_rate is not None:
        lines.append(f"  replay judge accepted {result.judge_accept_rate:.1%} of weak answers")
    return lines


def _mode_set_header(mode_set: ModeSet) -> list[str]:
    lines = [
        f"{mode_set.benchmark}: {mode_set.prompts} prompts ({mode_set.description}); {mode_set.quality_metric}: "
        f"strong {mode_set.strong_quality:.3f}, weak {mode_set.weak_quality:.3f}"
    ]
    if mode_set.strong_cost_per_1k_usd is not None and mode_set.weak_cost_per_1k_usd is not None:
        lines.append(f"  cost per 1,000 prompts in USD: strong {mode_set.strong_cost_per_1k_usd:.3f}, "
                     f"weak {mode_set.weak_cost_per_1k_usd:.3f}")
    return lines


def _point_row(point: ModePoint, strong_model: str, width: int) -> str:
    """Render a mode point with empty APGR and CPT cells, then its quality, costs and call shares."""
    name = f"{point.method} (point)"
    cost_per_prompt = "-" if point.cost_per_prompt_usd is None else f"{point.cost_per_prompt_usd:.6f}"
    cost_per_1k = "-" if point.cost_per_1k_usd is None else f"{point.cost_per_1k_usd:.3f}"
    calls = ", ".join(f"{model} {share:.1%}" for model, share in point.call_share.items())
    # The curve columns before 'vs random' stay blank, because a point has no APGR or CPT.
    blank_width = width - len("  vs random") - 30
    return (f"{name:<30}{'':<{blank_width}}  quality {point.quality:.3f}, $/prompt {cost_per_prompt}, "
            f"$/1k {cost_per_1k}, strong {point.strong_share:.1%} ({strong_model}); calls: {calls}")


def _range(interval: Interval, *, share: bool = False) -> str:
    if interval.low != interval.low:  # NaN: no resample reached the target
        return "-"
    if share:
        return f"{_share(interval.low)}-{_share(interval.high)}"
    return f"{interval.low:.3f}-{interval.high:.3f}"


def _share(value: float) -> str:
    return "never" if value != value else f"{value:.1%}"


def _usd_per_1k(cost_per_prompt: float | None) -> str:
    if cost_per_prompt is None:
        return "-"
    if cost_per_prompt != cost_per_prompt:
        return "never"
    return f"{cost_per_prompt * 1000:.3f}"


def _jsonable(value: Any) -> Any:
    """Replace NaN with None and turn float keys into strings, so the document is strict JSON."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and value != value:
        return None
    return value
