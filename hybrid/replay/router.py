"""Build a HybridRouter whose models and judge replay recorded real answers."""

from __future__ import annotations

from pathlib import Path

from hybrid.decision_log import DecisionLog
from hybrid.pipeline import HybridRouter
from hybrid.predictor import CachedPredictor, Predictor, build_predictor
from hybrid.replay.backends import JudgePolicy, ReplayCompletion, ReplayJudge
from hybrid.replay.data import Recording, load_gsm8k, load_mt_bench
from hybrid.settings import HybridSettings

__all__ = ["load_recording", "replay_router"]


def load_recording(data_dir: Path) -> Recording:
    """Load every recorded prompt that has both answers: GSM8K and MT-Bench turn 1."""
    return Recording([*load_gsm8k(data_dir), *load_mt_bench(data_dir)])


def replay_router(
    settings: HybridSettings,
    recording: Recording,
    *,
    predictor: Predictor | None = None,
    policy: JudgePolicy | None = None,
    log: DecisionLog | None = None,
) -> HybridRouter:
    """A HybridRouter with the real predictor and replayed models; it needs no key and no network."""
    return HybridRouter(
        settings,
        predictor=predictor or CachedPredictor(build_predictor(settings)),
        weak=ReplayCompletion(recording, side="weak", model=settings.weak_model),
        strong=ReplayCompletion(recording, side="strong", model=settings.strong_model),
        fallback=ReplayCompletion(recording, side="strong", model=settings.strong_model),
        judge=ReplayJudge(recording, model=settings.judge_model, policy=policy),
        log=log,
    )
