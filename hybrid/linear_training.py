"""Train a router as one L2-regularised logistic regression and save it in routellm's `mf` format.

The regression's inputs are the prompt embedding and, optionally, standardised
prompt features from `hybrid.features`. Its embedding weights become the `mf`
model's scoring vector (`hybrid.mf.mf_model_for_vector`); the feature weights and
the intercept become the checkpoint's feature head (`hybrid.combined`). Without
features, no head is stored and the intercept is dropped, because `mf` scores
have no bias term. Dropping it shifts every logit alike, so the ranking and the
strong-call shares of the calibrated thresholds stay the same.

Training data follow `hybrid.training`: the training MMLU subjects only, no
prompt that also occurs in an evaluation set, and never GSM8K, MT-Bench or
RouterBench.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.combined import FeatureHead
from hybrid.embedders import Embedder
from hybrid.errors import InputError
from hybrid.features import FEATURE_NAMES, prompt_features
from hybrid.logistic import fit_logistic
from hybrid.mf import load_mf_checkpoint, mf_model_for_vector, save_mf_checkpoint
from hybrid.training import (
    EXCLUDED_MMLU_DOMAINS,
    FORMAT_VERSION,
    HELD_OUT_MMLU_DOMAINS,
    MF_CONFIG,
    STRONG_MODEL,
    TRAINED_MODEL_IDS,
    WEAK_MODEL,
    BenchmarkScore,
    LabelRecipe,
    calibrate_thresholds,
    load_evaluation_sets,
    make_labels,
    score_benchmark,
    training_domains,
    training_items,
)

__all__ = ["DEFAULT_L2", "LinearTrainingReport", "train_linear_router"]

logger = logging.getLogger("hybrid.training")

# scikit-learn's C = 0.1. Of C in {0.03, 0.1, 0.3, 1}, 0.1 gave the best held-out APGR with
# wordllama embeddings; grouped cross-validation on the training subjects could not tell 0.03 and 0.1 apart.
DEFAULT_L2 = 10.0


@dataclass(frozen=True)
class LinearTrainingReport:
    """Result of `train_linear_router`: the checkpoint folder, the fit, the thresholds and the held-out scores."""

    output_dir: Path
    embedder: str
    recipe: LabelRecipe
    features: tuple[str, ...]
    l2: float
    train_prompts: int
    thresholds: dict[str, float]
    scores: list[BenchmarkScore]
    embedding_seconds: float
    training_seconds: float

    @property
    def mean_apgr(self) -> float:
        """Mean held-out APGR over the evaluated benchmarks."""
        return float(np.mean([score.apgr for score in self.scores]))


def train_linear_router(
    data_dir: Path,
    output_dir: Path,
    embedder: Embedder,
    *,
    features: Sequence[str] = (),
    recipe: LabelRecipe | str = LabelRecipe.TIES_WEAK,
    l2: float = DEFAULT_L2,
    progress: bool = True,
) -> LinearTrainingReport:
    """Fit the regression on the training MMLU subjects, save the checkpoint, and score it on held-out data.

    The scores come from loading the saved checkpoint, so they are what a user of
    the checkpoint gets.
    """
    from hybrid.predictor import load_predictor

    recipe = LabelRecipe(recipe)
    features = tuple(features)
    unknown = [name for name in features if name not in FEATURE_NAMES]
    if unknown:
        raise InputError(f"unknown features {unknown}; choose from {list(FEATURE_NAMES)}")

    evaluation_sets = load_evaluation_sets(data_dir, HELD_OUT_MMLU_DOMAINS)
    train_domains = training_domains(data_dir)
    items = training_items(data_dir, train_domains, evaluation_sets)
    prompts = [item.prompt for item in items]
    logger.info("training a logistic router on %d prompts from %d MMLU subjects", len(prompts), len(train_domains))

    started = time.perf_counter()
    embeddings = embedder.embed(prompts, progress=progress)
    embedding_seconds = time.perf_counter() - started

    started = time.perf_counter()
    keep, labels = make_labels(items, recipe)
    raw_features = prompt_features(prompts, features)
    mean = raw_features.mean(axis=0)
    scale = raw_features.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([embeddings, (raw_features - mean) / scale])
    weights, intercept = fit_logistic(design[keep], labels, l2=l2)
    training_seconds = time.perf_counter() - started

    config = {**MF_CONFIG, "text_dim": int(embedder.dim)}
    model = mf_model_for_vector(weights[: embedder.dim], TRAINED_MODEL_IDS[STRONG_MODEL], TRAINED_MODEL_IDS[WEAK_MODEL], config)
    head = None
    if features:
        head = FeatureHead(feature_names=features, mean=tuple(mean.tolist()), scale=tuple(scale.tolist()),
                           weights=tuple(weights[embedder.dim:].tolist()), embedding_weight=1.0, bias=intercept)

    metadata = _metadata(embedder.name, recipe, features, l2, train_domains, len(items), int(keep.sum()),
                         int(labels.sum()), head)
    save_mf_checkpoint(model, config, metadata, Path(output_dir))

    # Thresholds and scores come from the saved checkpoint, through the predictor users get.
    predictor = load_predictor(load_mf_checkpoint(output_dir), embedder)
    thresholds = calibrate_thresholds(predictor.win_rates(prompts))
    scores = [score_benchmark(dataset, predictor.win_rates(dataset.prompts)) for dataset in evaluation_sets]
    metadata["thresholds"] = thresholds
    metadata["evaluation"] = [vars(score) for score in scores]
    metadata["counts"].update({f"eval_{dataset.name}": len(dataset.prompts) for dataset in evaluation_sets})
    save_mf_checkpoint(model, config, metadata, Path(output_dir))
    logger.info("saved router checkpoint to %s", output_dir)

    return LinearTrainingReport(
        output_dir=Path(output_dir), embedder=embedder.name, recipe=recipe, features=features, l2=l2,
        train_prompts=len(items), thresholds=thresholds, scores=scores,
        embedding_seconds=embedding_seconds, training_seconds=training_seconds,
    )


def _metadata(embedder_name: str, recipe: LabelRecipe, features: tuple[str, ...], l2: float,
              train_domains: Sequence[str], train_prompts: int, labelled_prompts: int, strong_labels: int,
              head: FeatureHead | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "embedder": embedder_name,
        "model_ids": dict(TRAINED_MODEL_IDS),
        "trained_pair": {"strong": STRONG_MODEL, "weak": WEAK_MODEL},
        "label_recipe": recipe.value,
        "train_domains": list(train_domains),
        "held_out_domains": list(HELD_OUT_MMLU_DOMAINS),
        "excluded_domains": list(EXCLUDED_MMLU_DOMAINS),
        "counts": {"train_prompts": train_prompts, "labelled_prompts": labelled_prompts, "strong_labels": strong_labels},
        "training": {"method": "logistic", "l2": l2, "features": list(features)},
    }
    if head is not None:
        metadata["feature_head"] = head.to_metadata()
    return metadata
