"""Cheap difficulty signals computed from the prompt text alone, in microseconds.

They complement the embedding score. An averaged or small embedding encodes
what a prompt is about, but hardly how long or how numeric it is. On maths word
problems, the length of the problem predicts the weak model's failures better
than its topic does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from hybrid.errors import InputError

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


def prompt_features(texts: Sequence[str], names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """Return an array of shape (len(texts), len(names)) with the named features of each prompt.

    - `log_chars`: log(1 + characters);
    - `log_numbers`: log(1 + count of numbers such as 12, 3.5 or 1,000);
    - `digit_share`: digits per character;
    - `math_symbol_share`: characters among `= + * / ^ < > % $ € £ \\` per character;
    - `log_lines`: log(1 + line breaks);
    - `code_marker`: 1.0 when the prompt contains a code marker such as a fence, `def ` or `return `.

    Only the named features are computed, so a router that uses the length alone pays for nothing else.
    """
    unknown = [name for name in names if name not in _FEATURES]
    if unknown:
        raise InputError(f"unknown prompt features {unknown}; choose from {list(FEATURE_NAMES)}")

    functions = [_FEATURES[name] for name in names]
    rows = np.empty((len(texts), len(functions)))
    for index, text in enumerate(texts):
        rows[index] = [function(text) for function in functions]
    return rows


def _log_chars(text: str) -> float:
    return math.log1p(len(text))


def _log_numbers(text: str) -> float:
    return math.log1p(len(_NUMBER.findall(text)))


def _digit_share(text: str) -> float:
    return sum(character.isdigit() for character in text) / max(len(text), 1)


def _math_symbol_share(text: str) -> float:
    return sum(character in _MATH_SYMBOLS for character in text) / max(len(text), 1)


def _log_lines(text: str) -> float:
    return math.log1p(text.count("\n"))


def _code_marker(text: str) -> float:
    return float(any(marker in text for marker in _CODE_MARKERS))


_FEATURES: dict[str, Callable[[str], float]] = {
    "log_chars": _log_chars,
    "log_numbers": _log_numbers,
    "digit_share": _digit_share,
    "math_symbol_share": _math_symbol_share,
    "log_lines": _log_lines,
    "code_marker": _code_marker,
}
