"""The predictor: a prompt's strong-model win rate, and the route it implies.

Routes follow RouteLLM: the strong model is chosen when `win_rate >= threshold`.

A checkpoint scores the model pair it was trained on, named by `trained_pair`
in its `hybrid.json` (routellm's published checkpoint: GPT-4-1106 against
Mixtral-8x7B). The configured strong and weak models do not change the score, so
`build_predictor` logs a warning when they differ from that pair. The win rate
then only ranks prompts, and the threshold should be calibrated on the user's
own prompts with `hybrid calibrate`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from hybrid.combined import FeatureHead, apply_head
from hybrid.embedders import Embedder, OpenAIEmbedder, make_embedder
from hybrid.errors import ConfigurationError, PredictionError
from hybrid.mf import MFCheckpoint, load_mf_checkpoint
from hybrid.record import Route
from hybrid.settings import HybridSettings

__all__ = [
    "OFFICIAL_CHECKPOINT",
    "SHIPPED_CHECKPOINT",
    "CachedPredictor",
    "MFPredictor",
    "Predictor",
    "RouteDecision",
    "build_predictor",
    "checkpoint_embedder",
    "decide",
    "load_predictor",
]

logger = logging.getLogger("hybrid.predictor")

CHECKPOINTS_DIR = Path(__file__).parent / "checkpoints"
SHIPPED_CHECKPOINT = CHECKPOINTS_DIR / "mf-wordllama-length"
OFFICIAL_CHECKPOINT = "routellm/mf_gpt4_augmented"

# RouteLLM's README routes with `router-mf-0.11593`, the threshold it calibrated to
# send 50% of Chatbot Arena prompts to the strong model with this checkpoint.
OFFICIAL_DEFAULT_THRESHOLD = 0.11593

# The pair routellm's MF checkpoints were trained on; scores are computed for it.
TRAINED_STRONG = "gpt-4-1106-preview"
TRAINED_WEAK = "mixtral-8x7b-instruct-v0.1"

# (configured pair, trained pair) combinations already warned about in this process.
_warned_pairs: set[tuple[str, str, str, str]] = set()


class Predictor(Protocol):
    """Anything that scores prompts with the strong model's win rate in [0, 1]."""

    name: str
    default_threshold: float

    def win_rates(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        ...


@dataclass(frozen=True)
class RouteDecision:
    """The router's output for one prompt."""

    router: str
    win_rate: float
    threshold: float
    route: Route
    latency_ms: float


class MFPredictor:
    """RouteLLM's `mf` model over a configurable embedder, with an optional feature head.

    The model is collapsed once into a single scoring vector, so a decision
    costs one embedding and one dot product. When the checkpoint's metadata has
    a `feature_head`, the `mf` logit is combined with cheap prompt features as
    `hybrid.combined` describes.
    """

    def __init__(self, checkpoint: MFCheckpoint, embedder: Embedder, *, name: str = "mf",
                 default_threshold: float = 0.5) -> None:
        if checkpoint.text_dim != embedder.dim:
            raise ConfigurationError(
                f"router checkpoint {checkpoint.source} expects {checkpoint.text_dim}-dimensional embeddings but "
                f"embedder {embedder.name!r} produces {embedder.dim}; set HYBRID_EMBEDDER to match the checkpoint",
                setting="HYBRID_EMBEDDER",
            )

        self.name = name
        self.checkpoint = checkpoint
        self.embedder = embedder
        self.default_threshold = default_threshold
        pair = checkpoint.metadata.get("trained_pair", {"strong": TRAINED_STRONG, "weak": TRAINED_WEAK})
        self.scored_pair = (pair["strong"], pair["weak"])
        self._vector = checkpoint.scoring_vector(checkpoint.model_id(pair["strong"]), checkpoint.model_id(pair["weak"]))
        head = checkpoint.metadata.get("feature_head")
        self.head = None if head is None else FeatureHead.from_metadata(head, source=checkpoint.source)

    def win_rates(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        embeddings = self.embedder.embed(texts, progress=progress)
        logits = embeddings @ self._vector
        if self.head is not None:
            return apply_head(self.head, logits, texts)

        rates = 1.0 / (1.0 + np.exp(-logits))
        if not np.all(np.isfinite(rates)):
            raise PredictionError(f"router {self.name} produced a non-finite win rate; the checkpoint may be corrupt")
        return rates


class CachedPredictor:
    """A predictor that serves precomputed win rates, and scores other prompts with `inner`.

    Replay runs score every recorded prompt in one batch up front, then route
    request by request through the normal pipeline.
    """

    def __init__(self, inner: Predictor, cache: Mapping[str, float] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.default_threshold = inner.default_threshold
        self._cache: dict[str, float] = dict(cache or {})

    def prefill(self, texts: Sequence[str], *, progress: bool = False) -> None:
        missing = sorted({text for text in texts if text not in self._cache})
        if missing:
            for text, rate in zip(missing, self.inner.win_rates(missing, progress=progress), strict=True):
                self._cache[text] = float(rate)

    def win_rates(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.prefill(texts, progress=progress)
        return np.asarray([self._cache[text] for text in texts])


def decide(predictor: Predictor, text: str, threshold: float | None) -> RouteDecision:
    """Score `text` and route it: strong when the win rate reaches the threshold."""
    if threshold is None:
        threshold = predictor.default_threshold
    if not 0.0 <= threshold <= 1.0:
        raise ConfigurationError(f"threshold {threshold!r} is outside [0, 1]; pick a value such as 0.5", setting="HYBRID_THRESHOLD")

    started = time.perf_counter()
    win_rate = float(predictor.win_rates([text])[0])
    latency_ms = (time.perf_counter() - started) * 1000

    route = Route.STRONG if win_rate >= threshold else Route.WEAK
    return RouteDecision(router=predictor.name, win_rate=win_rate, threshold=threshold, route=route, latency_ms=latency_ms)


def build_predictor(settings: HybridSettings) -> MFPredictor:
    """Load the configured checkpoint and its embedder, and warn when it was trained on another model pair.

    Without HYBRID_CHECKPOINT, the shipped checkpoint is used, or routellm's
    published one when HYBRID_EMBEDDER is `openai`. Without HYBRID_EMBEDDER, the
    embedder is the one the checkpoint was trained with.
    """
    if settings.embedder == "openai" and (settings.openai_api_key is None or not settings.openai_api_key.get_secret_value()):
        # Say what is missing before trying to fetch the published checkpoint.
        raise ConfigurationError(
            "the openai embedder needs an API key; set HYBRID_OPENAI_API_KEY (or OPENAI_API_KEY), "
            "or leave HYBRID_EMBEDDER unset to use the local router, which needs none",
            setting="HYBRID_OPENAI_API_KEY",
        )

    if settings.checkpoint:
        source: str | Path = settings.checkpoint
        shipped = CHECKPOINTS_DIR / settings.checkpoint
        if "/" not in settings.checkpoint and shipped.is_dir():
            source = shipped  # a shipped checkpoint named by its folder, such as mf-minilm
    else:
        source = OFFICIAL_CHECKPOINT if settings.embedder == "openai" else SHIPPED_CHECKPOINT
    checkpoint = load_mf_checkpoint(source)

    name = settings.embedder or checkpoint_embedder(checkpoint)
    if name == "openai":
        embedder = make_embedder(
            "openai",
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            timeout=settings.embed_timeout,
            max_retries=settings.strong_retries,
        )
    else:
        embedder = make_embedder(name)

    logger.debug("loaded router checkpoint %s with embedder %s", checkpoint.source, embedder.name)
    predictor = load_predictor(checkpoint, embedder, name=settings.router)
    _warn_if_pair_differs(predictor, settings.strong_model, settings.weak_model,
                          threshold_set=settings.threshold is not None)
    return predictor


def load_predictor(checkpoint: MFCheckpoint, embedder: Embedder, *, name: str = "mf") -> MFPredictor:
    """Build the predictor of a loaded checkpoint, with its calibrated 50% threshold as the default."""
    thresholds = checkpoint.metadata.get("thresholds", {})
    fallback = OFFICIAL_DEFAULT_THRESHOLD if embedder.name == "openai" else 0.5
    default = float(thresholds.get("0.5", fallback))
    return MFPredictor(checkpoint, embedder, name=name, default_threshold=default)


def checkpoint_embedder(checkpoint: MFCheckpoint) -> str:
    """Return the embedder a checkpoint was trained with: its metadata's, or else the one its input size implies."""
    recorded = checkpoint.metadata.get("embedder")
    if isinstance(recorded, str):
        return recorded
    return "openai" if checkpoint.text_dim == OpenAIEmbedder.dim else "minilm"


def _warn_if_pair_differs(predictor: MFPredictor, strong_model: str, weak_model: str, *, threshold_set: bool) -> None:
    """Log once per pair when the checkpoint scores another pair than the configured one.

    It is a WARNING while the threshold is the checkpoint's default, and INFO once
    HYBRID_THRESHOLD is set, because a threshold calibrated on the user's prompts
    is the remedy the message recommends.
    """
    trained_strong, trained_weak = predictor.scored_pair
    if (strong_model, weak_model) == (trained_strong, trained_weak):
        return

    key = (strong_model, weak_model, trained_strong, trained_weak)
    if key in _warned_pairs:
        return
    _warned_pairs.add(key)

    level = logging.INFO if threshold_set else logging.WARNING
    logger.log(
        level,
        "router %s was trained on %s against %s, not the configured pair %s against %s, so its win rates "
        "only rank prompts; set HYBRID_THRESHOLD from `hybrid calibrate` on your own prompts (this is then logged at INFO)",
        Path(predictor.checkpoint.source).name, trained_strong, trained_weak, strong_model, weak_model,
    )
