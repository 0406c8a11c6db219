"""Quality against cost for every evaluated method: one panel per benchmark, one line per method, one marker per mode."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybrid.evaluation.harness import BenchmarkResult
from hybrid.evaluation.modes import ModeSet

__all__ = ["plot_evaluation"]

_STYLES = {"baseline": ":", "router": "-", "hybrid": "--", "oracle": "-."}
_MODE_MARKERS = {"cascade": "D", "parallel": "s"}


def plot_evaluation(results: Sequence[BenchmarkResult], path: Path, modes: Sequence[ModeSet] = ()) -> Path:
    """Draw each method's quality against its mean cost per 1,000 prompts and save a PNG.

    Benchmarks without known costs use the strong-call share as the x-axis.
    Always-weak and always-strong quality are horizontal lines. Each mode point
    is a marker on its benchmark's panel, or on a panel of its own when no curve
    method ran on that benchmark.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes_by_benchmark = {mode_set.benchmark: mode_set for mode_set in modes}
    curve_names = {result.benchmark for result in results}
    own_panels = [mode_set for mode_set in modes if mode_set.benchmark not in curve_names]
    panels = len(results) + len(own_panels)
    columns = min(3, panels)
    rows = (panels + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 4.4 * rows), squeeze=False)

    for axis, result in zip(axes.flat, results):
        on_cost = result.cost_source is not None
        for method in result.methods:
            xs = [point.cost_per_1k_usd if on_cost else point.strong_share for point in method.curve]
            ys = [point.quality for point in method.curve]
            label = f"{method.method} (APGR {method.metrics.apgr.value:.2f})"
            axis.plot(xs, ys, _STYLES.get(method.kind, "-"), marker=".", linewidth=1.3, label=label)
        if result.benchmark in modes_by_benchmark:
            _draw_points(axis, modes_by_benchmark[result.benchmark], on_cost=on_cost)

        axis.axhline(result.strong_quality, color="black", linewidth=0.8, label="always-strong")
        axis.axhline(result.weak_quality, color="grey", linewidth=0.8, label="always-weak")
        axis.set_title(f"{result.benchmark} ({result.prompts} prompts)")
        axis.set_xlabel(f"cost per 1,000 prompts (USD, {result.cost_source})" if on_cost else "strong-model call share")
        axis.set_ylabel(result.quality_metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="lower right")

    for axis, mode_set in zip(list(axes.flat)[len(results):], own_panels):
        _draw_mode_panel(axis, mode_set)

    for axis in list(axes.flat)[panels:]:
        axis.set_visible(False)

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _draw_points(axis: Any, mode_set: ModeSet, *, on_cost: bool) -> None:
    for point in mode_set.points:
        x = point.cost_per_1k_usd if on_cost else point.strong_share
        if x is None:
            continue
        axis.plot([x], [point.quality], linestyle="none", marker=_MODE_MARKERS.get(point.method, "o"), markersize=8,
                  label=f"{point.method} (point)")


def _draw_mode_panel(axis: Any, mode_set: ModeSet) -> None:
    """Draw a benchmark that has only mode points, on cost when always-strong and always-weak have costs."""
    on_cost = mode_set.strong_cost_per_1k_usd is not None and mode_set.weak_cost_per_1k_usd is not None
    _draw_points(axis, mode_set, on_cost=on_cost)
    axis.axhline(mode_set.strong_quality, color="black", linewidth=0.8, label="always-strong")
    axis.axhline(mode_set.weak_quality, color="grey", linewidth=0.8, label="always-weak")
    axis.set_title(f"{mode_set.benchmark} ({mode_set.prompts} prompts, modes only)")
    axis.set_xlabel("cost per 1,000 prompts (USD)" if on_cost else "strong-model call share")
    axis.set_ylabel(mode_set.quality_metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower right")
