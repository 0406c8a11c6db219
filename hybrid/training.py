"""Train and evaluate the local MF router checkpoint that ships with hybrid.

The router is routellm's `MFModel` on MiniLM prompt embeddings. Its labels come from
RouteLLM's recorded MMLU answers of GPT-4-1106 (strong) and Mixtral-8x7B (weak),
with a fixed set of MMLU subjects held out. Evaluation reports APGR on those
held-out subjects, on GSM8K and on MT-Bench turn 1, each beside a random router and
a bootstrap 90% interval.

Training data, by rule:
- only MMLU subjects outside `HELD_OUT_MMLU_DOMAINS` and `EXCLUDED_MMLU_DOMAINS`;
- never GSM8K, MT-Bench or RouterBench (the RouterBench copy has no license that
  allows shipping a model trained on it);
- no prompt whose text also occurs in an evaluation set.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from hybrid.errors import ConfigurationError, DataError, InputError
from hybrid.metrics import bootstrap_ci, random_router_apgr, router_apgr
from hybrid.mf import load_mf_checkpoint, mf_model_class, save_mf_checkpoint
from hybrid.replay.data import RecordedItem, available_mmlu_domains, load_gsm8k, load_mmlu, load_mt_bench

if TYPE_CHECKING:
    import torch

    from hybrid.embedders import Embedder

__all__ = [
    "DEFAULT_CHECKPOINT_DIR",
    "EXCLUDED_MMLU_DOMAINS",
    "HELD_OUT_MMLU_DOMAINS",
    "BenchmarkScore",
    "EvaluationSet",
    "FitSettings",
    "LabelRecipe",
    "TrainingReport",
    "calibrate_thresholds",
    "evaluate_checkpoint",
    "fit_mf",
    "make_labels",
    "predict_win_rates",
    "score_benchmark",
    "train_router",
    "training_domains",
    "training_items",
]

logger = logging.getLogger("hybrid.training")

DEFAULT_CHECKPOINT_DIR = Path(__file__).parent / "checkpoints" / "mf-minilm"
FORMAT_VERSION = 1

STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mixtral-8x7b-instruct-v0.1"

# Rows of MFModel.P, as routellm 0.2.0's MODEL_IDS numbers these two models.
TRAINED_MODEL_IDS = {STRONG_MODEL: 24, WEAK_MODEL: 36}

# routellm's published architecture with MiniLM's 384-dimensional embeddings in place of OpenAI's 1536.
MF_CONFIG: dict[str, Any] = {"dim": 128, "num_models": 64, "text_dim": 384, "num_classes": 1, "use_proj": True}

# Twelve subjects never trained on: three from each MMLU category (STEM, humanities,
# social sciences, other), picked by hand to mix hard and easy subjects, each with
# 100 to 400 questions so no single subject dominates the held-out score.
HELD_OUT_MMLU_DOMAINS: tuple[str, ...] = (
    "astronomy",
    "college_computer_science",
    "high_school_chemistry",
    "formal_logic",
    "high_school_us_history",
    "philosophy",
    "econometrics",
    "high_school_macroeconomics",
    "sociology",
    "clinical_knowledge",
    "global_facts",
    "nutrition",
)

# The recording marks GPT-4 correct on 3% of these questions and Mixtral on 32%,
# which points to a broken answer check upstream, so the labels are not used.
EXCLUDED_MMLU_DOMAINS: tuple[str, ...] = ("high_school_mathematics",)

# Shares of training prompts sent to the strong model by the calibrated thresholds.
THRESHOLD_SHARES = (0.2, 0.5, 0.8)

# Learning rate, weight decay and batch size are the values in routellm 0.2.0's
# train_matrix_factorization.py. Ten epochs without embedding noise scored the best mean
# held-out APGR of the settings tried, though the spread between settings was about 0.01.
DEFAULT_EPOCHS = 10
DEFAULT_LEARNING_RATE = 3e-4
DEFAULT_WEIGHT_DECAY = 1e-5
DEFAULT_BATCH_SIZE = 64
DEFAULT_NOISE = 0.0


class LabelRecipe(StrEnum):
    """Rule that turns a recorded pair of correctness flags into a training label (1 = route to strong)."""

    WEAK_FAILS = "weak_fails"
    """1 whenever the weak model was wrong, whatever the strong model did."""

    TIES_WEAK = "ties_weak"
    """1 only when the strong model was right and the weak model wrong, so ties count as weak wins."""

    ROUTELLM = "routellm"
    """RouteLLM's pairwise recipe: rows where both models agree are dropped, the rest labelled by the winner."""

    STRONG_GAIN = "strong_gain"
    """A soft label on every row: 1 when only the strong model is right, 0 when only the weak one is, 0.5 on ties.

    It is the strong model's expected gain, which APGR rewards on correctness
    benchmarks. It gave the best GSM8K score and the worst MT-Bench score of the
    recipes compared in docs/router.md.
    """


@dataclass(frozen=True)
class FitSettings:
    """Optimiser settings for `fit_mf`. `noise` is the standard deviation of Gaussian noise added to embeddings."""

    epochs: int = DEFAULT_EPOCHS
    learning_rate: float = DEFAULT_LEARNING_RATE
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    batch_size: int = DEFAULT_BATCH_SIZE
    noise: float = DEFAULT_NOISE
    seed: int = 0


@dataclass(frozen=True)
class EvaluationSet:
    """Decontaminated prompts of one benchmark with both models' per-prompt quality."""

    name: str
    prompts: list[str]
    strong_quality: np.ndarray
    weak_quality: np.ndarray


@dataclass(frozen=True)
class BenchmarkScore:
    """A router's APGR on one benchmark, with its bootstrap 90% interval and a random router's APGR."""

    benchmark: str
    prompts: int
    apgr: float
    ci_low: float
    ci_high: float
    random_apgr: float
    strong_quality: float
    weak_quality: float


@dataclass(frozen=True)
class TrainingReport:
    """Result of `train_router`: the settings used, the checkpoint folder, the thresholds and the held-out scores."""

    output_dir: Path
    recipe: LabelRecipe
    settings: FitSettings
    train_prompts: int
    labelled_prompts: int
    thresholds: dict[str, float]
    scores: list[BenchmarkScore]
    embedding_seconds: float
    training_seconds: float
    final_loss: float

    @property
    def mean_apgr(self) -> float:
        """Mean held-out APGR over the evaluated benchmarks."""
        return float(np.mean([score.apgr for score in self.scores]))


def train_router(
    data_dir: Path,
    output_dir: Path,
    *,
    recipe: LabelRecipe | str = LabelRecipe.WEAK_FAILS,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    noise: float = DEFAULT_NOISE,
    progress: bool = True,
    embedder: Embedder | None = None,
) -> TrainingReport:
    """Train an MF router on the training MMLU subjects, evaluate it and save it to `output_dir`.

    `data_dir` is the RouteLLM evals folder holding `mmlu/`, `gsm8k/` and `mt_bench/`.
    Prompts are embedded once with `embedder` (MiniLM by default). The checkpoint
    is written with `save_mf_checkpoint`, and its `hybrid.json` records the split,
    the recipe, the settings, the calibrated thresholds and the evaluation.
    """
    recipe = _parse_recipe(recipe)
    settings = FitSettings(
        epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay, noise=noise, seed=seed
    )
    if embedder is None:
        from hybrid.embedders import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    _check_text_dim(embedder)

    evaluation_sets = load_evaluation_sets(data_dir, HELD_OUT_MMLU_DOMAINS)
    train_domains = training_domains(data_dir)
    train_items = training_items(data_dir, train_domains, evaluation_sets)
    prompts = [item.prompt for item in train_items]
    logger.info("training on %d prompts from %d MMLU subjects", len(prompts), len(train_domains))

    started = time.perf_counter()
    train_embeddings = embedder.embed(prompts, progress=progress)
    evaluation_embeddings = [embedder.embed(dataset.prompts, progress=progress) for dataset in evaluation_sets]
    embedding_seconds = time.perf_counter() - started

    # Labels may drop rows (the routellm recipe), but thresholds are calibrated on every training prompt.
    keep, labels = make_labels(train_items, recipe)
    started = time.perf_counter()
    model, final_loss = fit_mf(train_embeddings[keep], labels, settings, progress=progress)
    training_seconds = time.perf_counter() - started
    logger.info("trained for %d epochs in %.1f s, final loss %.4f", epochs, training_seconds, final_loss)

    thresholds = calibrate_thresholds(predict_win_rates(model, train_embeddings))
    scores = [
        score_benchmark(dataset, predict_win_rates(model, embeddings), seed=seed)
        for dataset, embeddings in zip(evaluation_sets, evaluation_embeddings)
    ]

    counts = {
        "train_prompts": len(train_items),
        "labelled_prompts": int(labels.shape[0]),
        "strong_labels": int(labels.sum()),
        **{f"eval_{dataset.name}": len(dataset.prompts) for dataset in evaluation_sets},
    }
    metadata = _metadata(
        embedder_name=embedder.name,
        recipe=recipe,
        settings=settings,
        train_domains=train_domains,
        counts=counts,
        thresholds=thresholds,
        scores=scores,
    )
    save_mf_checkpoint(model, dict(MF_CONFIG), metadata, Path(output_dir))
    logger.info("saved router checkpoint to %s", output_dir)

    return TrainingReport(
        output_dir=Path(output_dir),
        recipe=recipe,
        settings=settings,
        train_prompts=len(train_items),
        labelled_prompts=int(labels.shape[0]),
        thresholds=thresholds,
        scores=scores,
        embedding_seconds=embedding_seconds,
        training_seconds=training_seconds,
        final_loss=final_loss,
    )


def evaluate_checkpoint(
    checkpoint_dir: Path, data_dir: Path, *, embedder: Embedder | None = None, progress: bool = False
) -> list[BenchmarkScore]:
    """Score a saved checkpoint on its held-out MMLU subjects, GSM8K and MT-Bench turn 1.

    The held-out subjects are read from the checkpoint's metadata, falling back to
    `HELD_OUT_MMLU_DOMAINS`. The embedder must be the one the checkpoint was trained with.
    """
    checkpoint = load_mf_checkpoint(checkpoint_dir)
    if embedder is None:
        from hybrid.embedders import MiniLMEmbedder

        embedder = MiniLMEmbedder()

    trained_with = checkpoint.metadata.get("embedder")
    if trained_with is not None and trained_with != embedder.name:
        raise ConfigurationError(
            f"checkpoint {checkpoint_dir} was trained on {trained_with!r} embeddings, not {embedder.name!r}; "
            f"evaluate it with the {trained_with!r} embedder",
            setting="HYBRID_EMBEDDER",
        )
    if checkpoint.text_dim != embedder.dim:
        raise ConfigurationError(
            f"checkpoint {checkpoint_dir} expects {checkpoint.text_dim}-dimensional embeddings but the "
            f"{embedder.name!r} embedder returns {embedder.dim}",
            setting="HYBRID_EMBEDDER",
        )

    pair = checkpoint.metadata.get("trained_pair", {"strong": STRONG_MODEL, "weak": WEAK_MODEL})
    vector = checkpoint.scoring_vector(checkpoint.model_id(pair["strong"]), checkpoint.model_id(pair["weak"]))
    held_out = tuple(checkpoint.metadata.get("held_out_domains", HELD_OUT_MMLU_DOMAINS))
    seed = int(checkpoint.metadata.get("training", {}).get("seed", 0))

    scores = []
    for dataset in load_evaluation_sets(data_dir, held_out):
        embeddings = embedder.embed(dataset.prompts, progress=progress)
        win_rates = 1.0 / (1.0 + np.exp(-(embeddings @ vector)))
        scores.append(score_benchmark(dataset, win_rates, seed=seed))
    return scores


def training_domains(data_dir: Path) -> list[str]:
    """Return the MMLU subjects in `data_dir` that are neither held out nor excluded."""
    available = available_mmlu_domains(data_dir)
    missing = sorted(set(HELD_OUT_MMLU_DOMAINS + EXCLUDED_MMLU_DOMAINS) - set(available))
    if missing:
        raise DataError(
            f"MMLU subjects {missing} have no mmlu_<subject>.csv in {data_dir / 'mmlu'}; "
            "point data_dir at the full RouteLLM evals folder"
        )

    unused = set(HELD_OUT_MMLU_DOMAINS) | set(EXCLUDED_MMLU_DOMAINS)
    return [domain for domain in available if domain not in unused]


def load_evaluation_sets(data_dir: Path, held_out_domains: Sequence[str]) -> list[EvaluationSet]:
    """Load the decontaminated held-out MMLU subjects, GSM8K and MT-Bench turn 1.

    Quality is correctness (0 or 1) for MMLU and GSM8K and the GPT-4 judge's 1-10
    turn-1 score for MT-Bench.
    """
    mmlu = [item for item in load_mmlu(data_dir, list(held_out_domains)) if not item.contaminated]
    gsm8k = [item for item in load_gsm8k(data_dir) if not item.contaminated]
    mt_bench = [item for item in load_mt_bench(data_dir) if not item.contaminated]

    return [
        _correctness_set("mmlu_held_out", mmlu),
        _correctness_set("gsm8k", gsm8k),
        EvaluationSet(
            name="mt_bench",
            prompts=[item.prompt for item in mt_bench],
            strong_quality=np.array([_require_value(item, item.strong_score) for item in mt_bench]),
            weak_quality=np.array([_require_value(item, item.weak_score) for item in mt_bench]),
        ),
    ]


def make_labels(items: Sequence[RecordedItem], recipe: LabelRecipe | str) -> tuple[np.ndarray, np.ndarray]:
    """Return a boolean mask of the items that get a label, and their labels (1.0 = strong)."""
    recipe = _parse_recipe(recipe)
    strong = np.array([bool(_require_value(item, item.strong_correct)) for item in items])
    weak = np.array([bool(_require_value(item, item.weak_correct)) for item in items])

    if recipe is LabelRecipe.WEAK_FAILS:
        return np.ones(len(items), dtype=bool), (~weak).astype(np.float32)
    if recipe is LabelRecipe.TIES_WEAK:
        return np.ones(len(items), dtype=bool), (strong & ~weak).astype(np.float32)
    if recipe is LabelRecipe.STRONG_GAIN:
        return np.ones(len(items), dtype=bool), ((strong.astype(np.float32) - weak + 1) / 2).astype(np.float32)

    keep = strong != weak
    return keep, strong[keep].astype(np.float32)


def fit_mf(
    embeddings: np.ndarray,
    labels: np.ndarray,
    settings: FitSettings = FitSettings(),
    *,
    progress: bool = False,
) -> tuple[torch.nn.Module, float]:
    """Train routellm's `MFModel` on precomputed embeddings and return it with its last epoch's mean loss.

    The objective is routellm's: binary cross-entropy of
    `sigmoid(score(strong) - score(weak))` against the label, where
    `score(m) = classifier(normalize(P[m]) * text_proj(embedding))`, optimised with
    Adam and L2 weight decay in shuffled mini-batches. Only the strong and weak rows
    of `P` receive gradients, but weight decay shrinks every row. The model trains in
    float64 and is returned in float32, the dtype `save_mf_checkpoint` writes.
    """
    import torch
    from tqdm.auto import tqdm

    _check_training_data(embeddings, labels, settings)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)

    MFModel, _ = mf_model_class()
    config = {**MF_CONFIG, "text_dim": int(embeddings.shape[1])}
    # Float64 training: in float32, weight decay drives Adam's squared-gradient averages for
    # barely used weights into subnormal numbers, and CPU epochs then ran about ten times slower.
    model = MFModel(**config).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    loss_function = torch.nn.BCEWithLogitsLoss()

    inputs = torch.as_tensor(embeddings, dtype=torch.float64)
    targets = torch.as_tensor(labels, dtype=torch.float64)
    pair = torch.tensor([TRAINED_MODEL_IDS[STRONG_MODEL], TRAINED_MODEL_IDS[WEAK_MODEL]])

    model.train()
    epoch_loss = float("nan")
    for epoch in tqdm(range(settings.epochs), desc="training MF router", unit="epoch", disable=not progress):
        order = torch.randperm(inputs.shape[0], generator=generator)
        total = 0.0
        for start in range(0, inputs.shape[0], settings.batch_size):
            batch = order[start : start + settings.batch_size]
            batch_inputs = inputs[batch]
            if settings.noise > 0:
                noise = torch.randn(batch_inputs.shape, generator=generator, dtype=torch.float64)
                batch_inputs = batch_inputs + settings.noise * noise

            logits = _pair_logits(model, pair, batch_inputs)
            loss = loss_function(logits, targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.shape[0]

        epoch_loss = total / inputs.shape[0]
        logger.debug("epoch %d of %d: mean loss %.4f", epoch + 1, settings.epochs, epoch_loss)

    return model.float().eval(), epoch_loss


def predict_win_rates(model: torch.nn.Module, embeddings: np.ndarray) -> np.ndarray:
    """Return the strong model's win rate for each embedding row, computed through the model's layers."""
    import torch

    pair = torch.tensor([TRAINED_MODEL_IDS[STRONG_MODEL], TRAINED_MODEL_IDS[WEAK_MODEL]])
    with torch.no_grad():
        logits = _pair_logits(model, pair, torch.as_tensor(embeddings, dtype=torch.float32))
    return torch.sigmoid(logits).double().numpy()


def calibrate_thresholds(win_rates: np.ndarray, shares: Sequence[float] = THRESHOLD_SHARES) -> dict[str, float]:
    """Return, per share, the win-rate threshold that sends that share of `win_rates` to the strong model.

    A prompt goes to the strong model when its win rate is at least the threshold,
    so the threshold for share s is the (1 - s) quantile of the win rates.
    """
    if win_rates.size == 0:
        raise InputError("cannot calibrate thresholds on zero win rates; train on at least one prompt")
    return {str(share): float(np.quantile(win_rates, 1.0 - share)) for share in shares}


def score_benchmark(dataset: EvaluationSet, win_rates: np.ndarray, *, seed: int = 0) -> BenchmarkScore:
    """Compute APGR, its bootstrap 90% interval and a random router's APGR on one benchmark."""
    interval = bootstrap_ci(win_rates, dataset.strong_quality, dataset.weak_quality, seed=seed)
    return BenchmarkScore(
        benchmark=dataset.name,
        prompts=len(dataset.prompts),
        apgr=router_apgr(win_rates, dataset.strong_quality, dataset.weak_quality),
        ci_low=interval.low,
        ci_high=interval.high,
        random_apgr=random_router_apgr(dataset.strong_quality, dataset.weak_quality, seed=seed),
        strong_quality=float(dataset.strong_quality.mean()),
        weak_quality=float(dataset.weak_quality.mean()),
    )


def _pair_logits(model: torch.nn.Module, pair: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
    """Return score(strong) - score(weak) per row, with MFModel's own layers."""
    import torch

    rows = torch.nn.functional.normalize(model.P(pair), p=2, dim=1)
    projected = model.text_proj(embeddings)
    scores = model.classifier(projected[:, None, :] * rows[None, :, :]).squeeze(-1)
    return scores[:, 0] - scores[:, 1]


def training_items(
    data_dir: Path, domains: Sequence[str], evaluation_sets: Sequence[EvaluationSet]
) -> list[RecordedItem]:
    """Load the training subjects, leaving out prompts whose text also occurs in an evaluation set."""
    items = load_mmlu(data_dir, list(domains))
    evaluation_prompts = {prompt for dataset in evaluation_sets for prompt in dataset.prompts}
    excluded_prompts = {item.prompt for item in load_mmlu(data_dir, list(EXCLUDED_MMLU_DOMAINS))}

    remaining = [
        item for item in items if item.prompt not in evaluation_prompts and item.prompt not in excluded_prompts
    ]
    if len(remaining) < len(items):
        logger.info(
            "left out %d training prompts that also occur in evaluation or excluded sets", len(items) - len(remaining)
        )
    return remaining


def _correctness_set(name: str, items: Sequence[RecordedItem]) -> EvaluationSet:
    return EvaluationSet(
        name=name,
        prompts=[item.prompt for item in items],
        strong_quality=np.array([float(_require_value(item, item.strong_correct)) for item in items]),
        weak_quality=np.array([float(_require_value(item, item.weak_correct)) for item in items]),
    )


def _metadata(
    *,
    embedder_name: str,
    recipe: LabelRecipe,
    settings: FitSettings,
    train_domains: Sequence[str],
    counts: dict[str, int],
    thresholds: dict[str, float],
    scores: Sequence[BenchmarkScore],
) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "format_version": FORMAT_VERSION,
        "embedder": embedder_name,
        "model_ids": dict(TRAINED_MODEL_IDS),
        "trained_pair": {"strong": STRONG_MODEL, "weak": WEAK_MODEL},
        "label_recipe": recipe.value,
        "train_domains": list(train_domains),
        "held_out_domains": list(HELD_OUT_MMLU_DOMAINS),
        "excluded_domains": list(EXCLUDED_MMLU_DOMAINS),
        "counts": counts,
        "training": {**asdict(settings), "routellm_version": version("routellm")},
        "thresholds": thresholds,
        "evaluation": [asdict(score) for score in scores],
    }


def _parse_recipe(recipe: LabelRecipe | str) -> LabelRecipe:
    try:
        return LabelRecipe(recipe)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in LabelRecipe)
        raise InputError(f"unknown label recipe {recipe!r}; use one of {choices}") from None


def _check_text_dim(embedder: Embedder) -> None:
    if embedder.dim != MF_CONFIG["text_dim"]:
        raise ConfigurationError(
            f"the shipped MF router expects {MF_CONFIG['text_dim']}-dimensional embeddings, but the "
            f"{embedder.name!r} embedder returns {embedder.dim}; train with the minilm embedder",
            setting="HYBRID_EMBEDDER",
        )


def _check_training_data(embeddings: np.ndarray, labels: np.ndarray, settings: FitSettings) -> None:
    if embeddings.ndim != 2 or embeddings.shape[0] == 0:
        raise InputError(f"embeddings must be a non-empty 2-D array, got shape {embeddings.shape}")
    if labels.shape != (embeddings.shape[0],):
        raise InputError(f"labels must have one value per embedding row ({embeddings.shape[0]}), got shape {labels.shape}")
    if settings.epochs < 1:
        raise InputError(f"epochs must be at least 1, got {settings.epochs}")
    if settings.batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {settings.batch_size}")


def _require_value(item: RecordedItem, value: Any) -> Any:
    if value is None:
        raise InputError(
            f"{item.benchmark} item {item.item_id} has no correctness flag or judge score; "
            "load items with load_mmlu, load_gsm8k or load_mt_bench"
        )
    return value
