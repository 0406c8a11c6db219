"""A router that adds cheap prompt features to RouteLLM's `mf` embedding score.

    win_rate = sigmoid(a * mf_logit + sum_i w_i * (f_i - mean_i) / scale_i + b)

`mf_logit` is the `mf` model's score difference for the trained pair, exactly as
`MFPredictor` computes it, and `f_i` are the features of `hybrid.features`. The
head's numbers live under `feature_head` in the checkpoint's `hybrid.json`, so
`config.json` and `model.safetensors` keep routellm's `mf` format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hybrid.errors import ConfigurationError, PredictionError
from hybrid.features import FEATURE_NAMES, prompt_features

__all__ = ["FeatureHead", "apply_head"]


@dataclass(frozen=True)
class FeatureHead:
    """The linear head over the `mf` logit and the standardised prompt features."""

    feature_names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    embedding_weight: float
    bias: float

    def __post_init__(self) -> None:
        sizes = {len(self.feature_names), len(self.mean), len(self.scale), len(self.weights)}
        if len(sizes) != 1:
            raise ConfigurationError(
                f"feature head has {len(self.feature_names)} names, {len(self.mean)} means, {len(self.scale)} scales "
                f"and {len(self.weights)} weights; retrain the router so they match", setting="HYBRID_CHECKPOINT",
            )
        unknown = [name for name in self.feature_names if name not in FEATURE_NAMES]
        if unknown:
            raise ConfigurationError(
                f"feature head uses unknown features {unknown}; this hybrid computes {list(FEATURE_NAMES)}. "
                "Upgrade hybrid or retrain the router", setting="HYBRID_CHECKPOINT",
            )
        if any(value <= 0 for value in self.scale):
            raise ConfigurationError(f"feature head scales {list(self.scale)} must be positive", setting="HYBRID_CHECKPOINT")

    @classmethod
    def from_metadata(cls, value: Mapping[str, Any], *, source: str) -> FeatureHead:
        """Read the head from a checkpoint's `feature_head` entry."""
        try:
            return cls(
                feature_names=tuple(str(name) for name in value["feature_names"]),
                mean=tuple(float(number) for number in value["mean"]),
                scale=tuple(float(number) for number in value["scale"]),
                weights=tuple(float(number) for number in value["weights"]),
                embedding_weight=float(value["embedding_weight"]),
                bias=float(value["bias"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigurationError(
                f"router checkpoint {source} has an invalid feature_head in hybrid.json ({error!r}); retrain it",
                setting="HYBRID_CHECKPOINT",
            ) from error

    def to_metadata(self) -> dict[str, Any]:
        """Return the head as JSON-ready values."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


def apply_head(head: FeatureHead, mf_logits: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Return the win rates of `texts` given their `mf` logits."""
    features = prompt_features(texts, head.feature_names)
    standardised = (features - np.asarray(head.mean)) / np.asarray(head.scale)

    logits = head.embedding_weight * mf_logits + standardised @ np.asarray(head.weights) + head.bias
    rates = 1.0 / (1.0 + np.exp(-logits))
    if not np.all(np.isfinite(rates)):
        raise PredictionError("the feature head produced a non-finite win rate; the checkpoint may be corrupt")
    return rates
