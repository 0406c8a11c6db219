"""Cheap difficulty signals computed from the prompt text alone, in microseconds.

They complement the embedding score: a static or small embedder sees what a
prompt is about, but hardly how long or how numeric it is, and on maths word
problems the length of the problem predicts the weak model's failures better
than its topic does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["FEATURE_NAMES", "prompt_features"]

FEATURE_NAMES = (
    "log_chars",
    "log_numbers",
    "digit_share",
    "math_symbol_share",
    "log_lines",
    "code_marker",
)

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MATH_SYMBOLS = frozenset("=+*/^<>%$€£\\")
_CODE_MARKERS = ("```", "def ", "return ", "import ", "function", "{", "};", "#include", "python", "SQL")


def prompt_features(texts: Sequence[str]) -> np.ndarray:
    """Return an array of shape (len(texts), len(FEATURE_NAMES)) with one row of features per prompt.

    - `log_chars`: log(1 + characters);
    - `log_numbers`: log(1 + count of numbers such as 12, 3.5 or 1,000);
    - `digit_share`: digits per character;
    - `math_symbol_share`: characters among `= + * / ^ < > % $ € £ \\` per character;
    - `log_lines`: log(1 + line breaks);
    - `code_marker`: 1.0 when the prompt contains a code marker such as a fence, `def ` or `return `.
    """
    rows = np.empty((len(texts), len(FEATURE_NAMES)))
    for index, text in enumerate(texts):
        length = max(len(text), 1)
        rows[index] = (
            math.log1p(len(text)),
            math.log1p(len(_NUMBER.findall(text))),
            sum(character.isdigit() for character in text) / length,
            sum(character in _MATH_SYMBOLS for character in text) / length,
            math.log1p(text.count("\n")),
            float(any(marker in text for marker in _CODE_MARKERS)),
        )
    return rows
