"""A quality-against-cost chart of `hybrid demo` results, one panel per benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hybrid.replay.demo import PolicyResult

__all__ = ["plot_results"]

_MARKERS = {"always-weak": "v", "always-strong": "^", "router-only": "s", "hybrid": "o"}


def plot_results(results: Sequence[PolicyResult], path: Path) -> Path:
    """Draw each policy's cost per 1,000 prompts against its quality, and save a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benchmarks = list(dict.fromkeys(result.benchmark for result in results))
    figure, axes = plt.subplots(1, len(benchmarks), figsize=(5.5 * len(benchmarks), 4.2), squeeze=False)

    for axis, benchmark in zip(axes[0], benchmarks, strict=True):
        rows = [result for result in results if result.benchmark == benchmark]
        for row in rows:
            if row.cost_per_1k_usd is None:
                continue
            axis.scatter(row.cost_per_1k_usd, row.quality, marker=_MARKERS.get(row.policy, "o"), s=70, label=row.policy)
            axis.annotate(f"{row.strong_share:.0%} strong", (row.cost_per_1k_usd, row.quality),
                          textcoords="offset points", xytext=(6, -12), fontsize=8)
        axis.set_title(f"{benchmark} ({rows[0].prompts} prompts)")
        axis.set_xlabel("cost per 1,000 prompts (USD)")
        axis.set_ylabel(rows[0].quality_metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="lower right")

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
