"""RouteLLM's published `mf` router figures, printed beside hybrid's own for comparison.

The published router embeds prompts with OpenAI's API and was trained on Chatbot
Arena preferences augmented with GPT-4-judged data, so it cannot be run
offline. Its figures are for GPT-4-1106 (strong) against Mixtral-8x7B (weak).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PUBLISHED_MF", "PUBLISHED_SOURCE", "PublishedFigure"]

PUBLISHED_SOURCE = (
    "Ong et al., RouteLLM: Learning to Route LLMs with Preference Data, arXiv:2406.18665 v4, Tables 1-3 "
    "(router `mf`, GPT-4-1106 against Mixtral-8x7B)"
)


@dataclass(frozen=True)
class PublishedFigure:
    """One published APGR, with the hybrid benchmark it compares with and how the two differ."""

    benchmark: str
    apgr: float
    note: str


# NOTE: these APGR values are copied from the paper's Tables 1-3 as quoted to this project, not re-checked
# against the paper itself. The paper's CPT figures are not included.
PUBLISHED_MF: tuple[PublishedFigure, ...] = (
    PublishedFigure("mt_bench", 0.802, "same 72 decontaminated turn-1 questions"),
    PublishedFigure("mmlu_held_out", 0.597, "the paper scores all 57 MMLU subjects, not the 12 held out here"),
    PublishedFigure("gsm8k", 0.565, "same 1,307 decontaminated problems"),
)
