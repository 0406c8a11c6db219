"""Tests for hybrid.training on small synthetic embeddings, plus checks of the shipped checkpoint."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np
import pytest
import torch

from hybrid.errors import ConfigurationError, InputError
from hybrid.mf import load_mf_checkpoint, mf_model_class, save_mf_checkpoint
from hybrid.replay.data import RecordedItem
from hybrid.training import (
    DEFAULT_CHECKPOINT_DIR,
    EXCLUDED_MMLU_DOMAINS,
    HELD_OUT_MMLU_DOMAINS,
    MF_CONFIG,
    TRAINED_MODEL_IDS,
    FitSettings,
    LabelRecipe,
    calibrate_thresholds,
    evaluate_checkpoint,
    fit_mf,
    make_labels,
    predict_win_rates,
    train_router,
    training_domains,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "routellm-evals"
TEXT_DIM = 16
STRONG_ID = TRAINED_MODEL_IDS["gpt-4-1106-preview"]
WEAK_ID = TRAINED_MODEL_IDS["mixtral-8x7b-instruct-v0.1"]
HIDDEN_DIRECTION = np.random.default_rng(99).normal(size=TEXT_DIM)


def synthetic_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm embeddings whose label is the sign of their projection on a fixed hidden direction."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, TEXT_DIM))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = (embeddings @ HIDDEN_DIRECTION > 0).astype(np.float32)
    return embeddings.astype(np.float32), labels


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    positives = scores[labels == 1]
    negatives = scores[labels == 0]
    return float((positives[:, None] > negatives[None, :]).mean())


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    embeddings, labels = synthetic_problem(1200, seed=0)
    model, _ = fit_mf(embeddings, labels, FitSettings(epochs=15, learning_rate=3e-3, seed=0))
    return model, embeddings, labels


def recorded(strong: bool, weak: bool) -> RecordedItem:
    return RecordedItem(
        benchmark="mmlu",
        item_id="test/0",
        prompt="question",
        strong_answer=None,
        weak_answer=None,
        strong_correct=strong,
        weak_correct=weak,
        strong_score=None,
        weak_score=None,
        category="test",
        contaminated=False,
    )


def test_fit_learns_separable_problem(trained: tuple[torch.nn.Module, np.ndarray, np.ndarray]) -> None:
    model, _, _ = trained
    embeddings, labels = synthetic_problem(1000, seed=1)
    win_rates = predict_win_rates(model, embeddings)

    # A fresh sample of the same problem: the model must generalise, not memorise.
    assert auc(win_rates, labels) > 0.95
    assert ((win_rates > 0.5) == (labels == 1)).mean() > 0.9


def test_fit_is_deterministic() -> None:
    embeddings, labels = synthetic_problem(300, seed=1)
    settings = FitSettings(epochs=2, seed=5)

    first, first_loss = fit_mf(embeddings, labels, settings)
    second, second_loss = fit_mf(embeddings, labels, settings)

    assert first_loss == second_loss
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name


def test_fit_with_noise_runs() -> None:
    embeddings, labels = synthetic_problem(200, seed=2)

    model, loss = fit_mf(embeddings, labels, FitSettings(epochs=1, noise=0.05))

    assert np.isfinite(loss)
    assert predict_win_rates(model, embeddings).shape == (200,)


def test_fit_rejects_mismatched_labels() -> None:
    embeddings, labels = synthetic_problem(10, seed=3)

    with pytest.raises(InputError, match="one value per embedding row"):
        fit_mf(embeddings, labels[:5])


def test_saved_weights_load_exactly(trained: tuple[torch.nn.Module, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    model, _, _ = trained
    config = {**MF_CONFIG, "text_dim": TEXT_DIM}

    save_mf_checkpoint(model, config, {"embedder": "synthetic"}, tmp_path)
    checkpoint = load_mf_checkpoint(tmp_path)

    saved = model.state_dict()
    loaded = checkpoint.model.state_dict()
    assert set(loaded) == set(saved)
    for name, tensor in saved.items():
        assert torch.equal(loaded[name], tensor), name
    assert checkpoint.text_dim == TEXT_DIM


def test_scoring_vector_matches_layers(trained: tuple[torch.nn.Module, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    model, embeddings, _ = trained
    save_mf_checkpoint(model, {**MF_CONFIG, "text_dim": TEXT_DIM}, {}, tmp_path)
    checkpoint = load_mf_checkpoint(tmp_path)
    vector = checkpoint.scoring_vector(STRONG_ID, WEAK_ID)

    # MFModel's arithmetic written out: classifier(normalize(P[m]) * text_proj(e)) per model.
    with torch.no_grad():
        inputs = torch.as_tensor(embeddings[:50])
        rows = torch.nn.functional.normalize(model.P.weight[[STRONG_ID, WEAK_ID]], p=2, dim=1)
        projected = model.text_proj(inputs)
        strong_score = model.classifier(rows[0] * projected).squeeze(-1)
        weak_score = model.classifier(rows[1] * projected).squeeze(-1)
        expected = torch.sigmoid(strong_score - weak_score).double().numpy()

    from_vector = 1.0 / (1.0 + np.exp(-(embeddings[:50].astype(np.float64) @ vector)))
    np.testing.assert_allclose(from_vector, expected, atol=1e-6)
    np.testing.assert_allclose(predict_win_rates(model, embeddings[:50]), expected, atol=1e-6)


def test_scoring_vector_matches_routellm_forward(
    trained: tuple[torch.nn.Module, np.ndarray, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, embeddings, _ = trained
    save_mf_checkpoint(model, {**MF_CONFIG, "text_dim": TEXT_DIM}, {}, tmp_path)
    checkpoint = load_mf_checkpoint(tmp_path)
    vector = checkpoint.scoring_vector(STRONG_ID, WEAK_ID)

    # MFModel.forward fetches the embedding from its module's OPENAI_CLIENT, so a fake
    # client hands it the synthetic vector and routellm's own pred_win_rate runs unchanged.
    mf_model_class()
    module = sys.modules["routellm.routers.matrix_factorization.model"]
    for row in embeddings[:5]:
        response = SimpleNamespace(data=[SimpleNamespace(embedding=row.tolist())])
        fake_client = SimpleNamespace(embeddings=SimpleNamespace(create=lambda **_: response))
        monkeypatch.setattr(module, "OPENAI_CLIENT", fake_client)

        expected = checkpoint.model.pred_win_rate(STRONG_ID, WEAK_ID, "any prompt")
        actual = 1.0 / (1.0 + np.exp(-(row.astype(np.float64) @ vector)))
        assert actual == pytest.approx(expected, abs=1e-6)


def test_training_script_names_rejected(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    # routellm's train_matrix_factorization.py names its layers without the Sequential
    # index and keeps the prompt table Q, so these names do not match MFModel.
    state = {
        "P.weight": torch.zeros(64, 128),
        "Q.weight": torch.zeros(10, TEXT_DIM),
        "text_proj.weight": torch.zeros(128, TEXT_DIM),
        "classifier.weight": torch.zeros(1, 128),
    }
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({**MF_CONFIG, "text_dim": TEXT_DIM}))

    with pytest.raises(ConfigurationError, match="expects"):
        load_mf_checkpoint(tmp_path)


@pytest.mark.parametrize(
    ("recipe", "expected_keep", "expected_labels"),
    [
        (LabelRecipe.WEAK_FAILS, [True, True, True, True], [0.0, 1.0, 0.0, 1.0]),
        (LabelRecipe.TIES_WEAK, [True, True, True, True], [0.0, 1.0, 0.0, 0.0]),
        (LabelRecipe.ROUTELLM, [False, True, True, False], [1.0, 0.0]),
        (LabelRecipe.STRONG_GAIN, [True, True, True, True], [0.5, 1.0, 0.0, 0.5]),
    ],
)
def test_label_recipes(recipe: LabelRecipe, expected_keep: list[bool], expected_labels: list[float]) -> None:
    # Rows: both right, only strong right, only weak right, both wrong.
    items = [recorded(True, True), recorded(True, False), recorded(False, True), recorded(False, False)]

    keep, labels = make_labels(items, recipe)

    assert keep.tolist() == expected_keep
    assert labels.tolist() == expected_labels


def test_unknown_recipe_rejected() -> None:
    with pytest.raises(InputError, match="weak_fails"):
        make_labels([recorded(True, False)], "majority")


def test_calibrated_thresholds_route_shares() -> None:
    win_rates = np.random.default_rng(4).random(10_000)

    thresholds = calibrate_thresholds(win_rates)

    assert set(thresholds) == {"0.2", "0.5", "0.8"}
    for share, threshold in thresholds.items():
        assert (win_rates >= threshold).mean() == pytest.approx(float(share), abs=0.001)


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="RouteLLM eval data not found next to the repository")
def test_training_domains_exclude_held_out() -> None:
    domains = training_domains(DATA_DIR)

    assert len(domains) == 57 - len(HELD_OUT_MMLU_DOMAINS) - len(EXCLUDED_MMLU_DOMAINS)
    assert not set(domains) & set(HELD_OUT_MMLU_DOMAINS)
    assert not set(domains) & set(EXCLUDED_MMLU_DOMAINS)


def test_shipped_checkpoint_loads() -> None:
    checkpoint = load_mf_checkpoint(DEFAULT_CHECKPOINT_DIR)
    metadata = checkpoint.metadata

    assert checkpoint.text_dim == 384
    assert metadata["embedder"] == "minilm"
    assert metadata["model_ids"] == {"gpt-4-1106-preview": 24, "mixtral-8x7b-instruct-v0.1": 36}
    assert set(metadata["thresholds"]) == {"0.2", "0.5", "0.8"}
    assert len(metadata["held_out_domains"]) == 12
    assert not set(metadata["held_out_domains"]) & set(metadata["train_domains"])
    assert not set(metadata["excluded_domains"]) & set(metadata["train_domains"])


def test_shipped_thresholds_are_ordered() -> None:
    thresholds = load_mf_checkpoint(DEFAULT_CHECKPOINT_DIR).metadata["thresholds"]

    # Sending more prompts to the strong model needs a lower win-rate threshold.
    assert thresholds["0.8"] < thresholds["0.5"] < thresholds["0.2"]


class HashEmbedder:
    """Deterministic stand-in for MiniLM: a unit vector seeded by the prompt's SHA-256."""

    name = "hash"
    dim = 384

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).normal(size=self.dim)
            rows.append(row / np.linalg.norm(row))
        return np.array(rows)


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="RouteLLM eval data not found next to the repository")
def test_train_router_end_to_end(tmp_path: Path) -> None:
    report = train_router(DATA_DIR, tmp_path, epochs=1, progress=False, embedder=HashEmbedder())
    metadata = json.loads((tmp_path / "hybrid.json").read_text())

    assert [score.benchmark for score in report.scores] == ["mmlu_held_out", "gsm8k", "mt_bench"]
    assert [score.prompts for score in report.scores][1:] == [1307, 72]
    assert metadata["embedder"] == "hash"
    assert metadata["label_recipe"] == "weak_fails"
    assert metadata["format_version"] == 1
    assert metadata["counts"]["train_prompts"] == report.train_prompts
    assert metadata["thresholds"] == report.thresholds
    assert not set(metadata["train_domains"]) & set(metadata["held_out_domains"])

    # Scoring the saved checkpoint through scoring_vector must reproduce the training-time evaluation.
    rescored = evaluate_checkpoint(tmp_path, DATA_DIR, embedder=HashEmbedder())
    for before, after in zip(report.scores, rescored):
        assert after.apgr == pytest.approx(before.apgr, abs=1e-6), before.benchmark
        assert after.random_apgr == before.random_apgr


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="RouteLLM eval data not found next to the repository")
def test_evaluate_checkpoint_rejects_other_embedder(tmp_path: Path) -> None:
    model, _ = fit_mf(*synthetic_problem(50, seed=6), FitSettings(epochs=1))
    save_mf_checkpoint(model, {**MF_CONFIG, "text_dim": TEXT_DIM}, {"embedder": "minilm"}, tmp_path)

    with pytest.raises(ConfigurationError, match="trained on 'minilm' embeddings"):
        evaluate_checkpoint(tmp_path, DATA_DIR, embedder=HashEmbedder())
