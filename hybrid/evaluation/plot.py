"""Quality against cost for every evaluated method: one panel per benchmark, one line per method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hybrid.evaluation.harness import BenchmarkResult

__all__ = ["plot_evaluation"]

_STYLES = {"baseline": ":", "router": "-", "hybrid": "--", "oracle": "-."}


def plot_evaluation(results: Sequence[BenchmarkResult], path: Path) -> Path:
    """Draw each method's quality against its mean cost per 1,000 prompts and save a PNG.

    Benchmarks without known costs use the strong-call share as the x-axis.
    Always-weak and always-strong quality are horizontal lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(results))
    rows = (len(results) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 4.4 * rows), squeeze=False)

    for axis, result in zip(axes.flat, results):
        on_cost = result.cost_source is not None
        for method in result.methods:
            xs = [point.cost_per_1k_usd if on_cost else point.strong_share for point in method.curve]
            ys = [point.quality for point in method.curve]
            label = f"{method.method} (APGR {method.metrics.apgr.value:.2f})"
            axis.plot(xs, ys, _STYLES.get(method.kind, "-"), marker=".", linewidth=1.3, label=label)

        axis.axhline(result.strong_quality, color="black", linewidth=0.8, label="always-strong")
        axis.axhline(result.weak_quality, color="grey", linewidth=0.8, label="always-weak")
        axis.set_title(f"{result.benchmark} ({result.prompts} prompts)")
        axis.set_xlabel(f"cost per 1,000 prompts (USD, {result.cost_source})" if on_cost else "strong-model call share")
        axis.set_ylabel(result.quality_metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="lower right")

    for axis in list(axes.flat)[len(results):]:
        axis.set_visible(False)

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
