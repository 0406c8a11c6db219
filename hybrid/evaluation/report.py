"""The evaluation's console table and JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hybrid.evaluation.curves import CPT_FRACTIONS, Interval
from hybrid.evaluation.harness import BenchmarkResult
from hybrid.evaluation.published import PUBLISHED_MF, PUBLISHED_SOURCE

__all__ = ["format_table", "to_json"]


def format_table(results: Sequence[BenchmarkResult], *, confidence: float = 0.9) -> str:
    """Render every benchmark as a block of rows, one per method, then the published figures."""
    lines: list[str] = []
    percent = f"{confidence:.0%}"
    for result in results:
        lines += _benchmark_header(result, percent)
        header = (f"{'method':<30} {'APGR':>6} {percent + ' CI':>13} {'CPT(50%)':>9} {percent + ' CI':>13} "
                  f"{'CPT(80%)':>9} {percent + ' CI':>13} {'$/1k @50%':>10} {'$/1k @80%':>10}  vs random")
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
        lines.append("")

    lines.append(f"Published RouteLLM `mf` APGR, from {PUBLISHED_SOURCE}:")
    for figure in PUBLISHED_MF:
        lines.append(f"  {figure.benchmark:<16} {figure.apgr:.3f}  ({figure.note})")
    lines.append("")
    lines.append(
        f"APGR and CPT intervals are {percent} bootstrap intervals over prompts. 'vs random' is 'above' only when the "
        f"method's APGR interval lies wholly above the central {percent} of random routers' APGRs on the same prompts; "
        "two methods whose intervals overlap are not shown to differ. CPT is the strong-call share, and '$/1k' the mean "
        "cost per 1,000 prompts, needed to recover 50% or 80% of the quality gap ('never' when the curve does not get there)."
    )
    return "\n".join(lines)


def to_json(results: Sequence[BenchmarkResult], *, context: dict[str, Any]) -> str:
    """Return the results, the published figures and `context` (models, routers, options) as a JSON document."""
    document = {
        "context": context,
        "benchmarks": [_jsonable(asdict(result)) for result in results],
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
