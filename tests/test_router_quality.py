"""The keyless routers: the logistic fit, its `mf` encoding, the feature head, the shipped default and the pair warning."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hybrid.errors import ConfigurationError
from hybrid.evaluation.routers import load_router, shipped_router_names
from hybrid.features import FEATURE_NAMES, prompt_features
from hybrid.logistic import fit_logistic
from hybrid.metrics import router_apgr
from hybrid.mf import load_mf_checkpoint, mf_model_for_vector, save_mf_checkpoint
from hybrid.predictor import SHIPPED_CHECKPOINT, build_predictor, load_predictor
from hybrid.settings import load_settings
from hybrid.training import MF_CONFIG, TRAINED_MODEL_IDS, load_evaluation_sets

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "routellm-evals"
STRONG_ID = TRAINED_MODEL_IDS["gpt-4-1106-preview"]
WEAK_ID = TRAINED_MODEL_IDS["mixtral-8x7b-instruct-v0.1"]


class TableEmbedder:
    """Returns fixed vectors, one per known prompt."""

    name = "table"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table
        self.dim = len(next(iter(table.values())))

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return np.array([self.table[text] for text in texts])


def test_logistic_fit_is_optimal() -> None:
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(500, 6))
    labels = (rng.random(500) < 1 / (1 + np.exp(-(inputs @ np.arange(6) * 0.3 + 0.5)))).astype(float)

    weights, intercept = fit_logistic(inputs, labels, l2=2.0)

    # At the optimum the penalised gradient vanishes, the intercept's without a penalty.
    probabilities = 1 / (1 + np.exp(-(inputs @ weights + intercept)))
    np.testing.assert_allclose(inputs.T @ (probabilities - labels) + 2.0 * weights, 0.0, atol=1e-8)
    assert float(np.sum(probabilities - labels)) == pytest.approx(0.0, abs=1e-8)


def test_vector_stored_in_mf_format_scores_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vector = np.random.default_rng(1).normal(size=16)
    config = {**MF_CONFIG, "text_dim": 16}

    save_mf_checkpoint(mf_model_for_vector(vector, STRONG_ID, WEAK_ID, config), config, {}, tmp_path)
    checkpoint = load_mf_checkpoint(tmp_path)

    np.testing.assert_allclose(checkpoint.scoring_vector(STRONG_ID, WEAK_ID), vector, rtol=1e-6, atol=1e-6)

    # routellm's own forward pass, fed the embedding through a stand-in client, gives the same win rate.
    module = sys.modules["routellm.routers.matrix_factorization.model"]
    embedding = np.random.default_rng(2).normal(size=16)
    response = SimpleNamespace(data=[SimpleNamespace(embedding=embedding.tolist())])
    monkeypatch.setattr(module, "OPENAI_CLIENT", SimpleNamespace(embeddings=SimpleNamespace(create=lambda **_: response)))
    expected = 1 / (1 + np.exp(-(embedding @ vector)))
    assert checkpoint.model.pred_win_rate(STRONG_ID, WEAK_ID, "any prompt") == pytest.approx(expected, abs=1e-5)


def test_feature_head_adds_to_mf_logit(tmp_path: Path) -> None:
    vector = np.array([0.5, -1.0, 2.0])
    config = {**MF_CONFIG, "text_dim": 3}
    head = {"feature_names": ["log_chars", "log_numbers"], "mean": [3.0, 0.5], "scale": [2.0, 1.0],
            "weights": [0.7, -0.2], "embedding_weight": 1.5, "bias": -0.3}
    save_mf_checkpoint(mf_model_for_vector(vector, STRONG_ID, WEAK_ID, config), config, {"feature_head": head}, tmp_path)
    prompts = ["Compute 12 * 7 and 3 + 4.", "Hello there"]
    embeddings = {prompts[0]: np.array([0.1, 0.2, 0.3]), prompts[1]: np.array([-0.4, 0.0, 0.2])}

    predictor = load_predictor(load_mf_checkpoint(tmp_path), TableEmbedder(embeddings))
    rates = predictor.win_rates(prompts)

    for prompt, rate in zip(prompts, rates):
        chars = np.log1p(len(prompt))
        numbers = np.log1p({prompts[0]: 4, prompts[1]: 0}[prompt])
        logit = 1.5 * embeddings[prompt] @ vector + 0.7 * (chars - 3.0) / 2.0 - 0.2 * (numbers - 0.5) - 0.3
        assert rate == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-6), prompt


def test_feature_head_with_unknown_feature_rejected(tmp_path: Path) -> None:
    config = {**MF_CONFIG, "text_dim": 3}
    head = {"feature_names": ["colour"], "mean": [0.0], "scale": [1.0], "weights": [1.0], "embedding_weight": 1.0,
            "bias": 0.0}
    save_mf_checkpoint(mf_model_for_vector(np.ones(3), STRONG_ID, WEAK_ID, config), config, {"feature_head": head}, tmp_path)

    with pytest.raises(ConfigurationError, match="unknown features \\['colour'\\]"):
        load_predictor(load_mf_checkpoint(tmp_path), TableEmbedder({"x": np.ones(3)}))


def test_prompt_features_by_hand() -> None:
    features = dict(zip(FEATURE_NAMES, prompt_features(["Add 12 and 3.5 = ?\n```def f(): return 1```"])[0]))

    text = "Add 12 and 3.5 = ?\n```def f(): return 1```"
    assert features["log_chars"] == pytest.approx(np.log1p(len(text)))
    assert features["log_numbers"] == pytest.approx(np.log1p(3))  # 12, 3.5 and 1
    assert features["digit_share"] == pytest.approx(5 / len(text))
    assert features["math_symbol_share"] == pytest.approx(1 / len(text))
    assert features["log_lines"] == pytest.approx(np.log1p(1))
    assert features["code_marker"] == 1.0


def test_shipped_default_is_documented() -> None:
    checkpoint = load_mf_checkpoint(SHIPPED_CHECKPOINT)
    metadata = checkpoint.metadata

    assert SHIPPED_CHECKPOINT.name == "mf-wordllama-length"
    assert metadata["embedder"] == "wordllama"
    assert metadata["trained_pair"] == {"strong": "gpt-4-1106-preview", "weak": "mixtral-8x7b-instruct-v0.1"}
    assert metadata["feature_head"]["feature_names"] == ["log_chars"]
    assert metadata["training"] == {"method": "logistic", "l2": 10.0, "features": ["log_chars"]}
    assert not set(metadata["train_domains"]) & set(metadata["held_out_domains"])
    assert "high_school_mathematics" not in metadata["train_domains"]
    assert set(shipped_router_names()) >= {"mf-minilm", "mf-wordllama", "mf-wordllama-length", "mf-wordllama-gain"}


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="RouteLLM eval data not found next to the repository")
def test_shipped_default_held_out_apgr(shipped_predictor: object) -> None:
    metadata = load_mf_checkpoint(SHIPPED_CHECKPOINT).metadata
    recorded = {score["benchmark"]: score["apgr"] for score in metadata["evaluation"]}

    measured = {}
    for dataset in load_evaluation_sets(DATA_DIR, metadata["held_out_domains"]):
        rates = shipped_predictor.win_rates(dataset.prompts)
        measured[dataset.name] = router_apgr(rates, dataset.strong_quality, dataset.weak_quality)

    assert measured == pytest.approx(recorded, abs=1e-9)
    # Floors well above the previous MiniLM checkpoint's 0.564, 0.472 and 0.745.
    assert measured["mmlu_held_out"] > 0.6
    assert measured["gsm8k"] > 0.54
    assert measured["mt_bench"] > 0.78


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="RouteLLM eval data not found next to the repository")
def test_gain_router_held_out_apgr() -> None:
    from hybrid.evaluation.published import PUBLISHED_MF

    _, predictor = load_router("mf-wordllama-gain")
    metadata = predictor.checkpoint.metadata
    recorded = {score["benchmark"]: score["apgr"] for score in metadata["evaluation"]}
    published = {figure.benchmark: figure.apgr for figure in PUBLISHED_MF}

    measured = {}
    for dataset in load_evaluation_sets(DATA_DIR, metadata["held_out_domains"]):
        rates = predictor.win_rates(dataset.prompts)
        measured[dataset.name] = router_apgr(rates, dataset.strong_quality, dataset.weak_quality)

    assert metadata["label_recipe"] == "strong_gain"
    assert measured == pytest.approx(recorded, abs=1e-9)
    # It trades MT-Bench for the correctness benchmarks, where it reaches the published mf figures.
    assert measured["mmlu_held_out"] >= published["mmlu_held_out"]
    assert measured["gsm8k"] >= published["gsm8k"]
    assert measured["mt_bench"] < 0.7


def test_pair_warning_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(strong_model="my-strong-model-a", weak_model="my-weak-model-b")

    with caplog.at_level(logging.WARNING, logger="hybrid.predictor"):
        build_predictor(settings)
        build_predictor(settings)

    warnings = [record for record in caplog.records if "configured pair" in record.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "my-strong-model-a" in warnings[0].getMessage()
    assert "gpt-4-1106-preview" in warnings[0].getMessage()


def test_pair_notice_is_info_once_threshold_set(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(strong_model="my-strong-model-c", weak_model="my-weak-model-d", threshold=0.42)

    with caplog.at_level(logging.INFO, logger="hybrid.predictor"):
        build_predictor(settings)

    notices = [record for record in caplog.records if "configured pair" in record.getMessage()]
    assert len(notices) == 1
    assert notices[0].levelno == logging.INFO
    assert "my-strong-model-c" in notices[0].getMessage()


def test_no_pair_warning_for_trained_pair(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(strong_model="gpt-4-1106-preview", weak_model="mixtral-8x7b-instruct-v0.1")

    with caplog.at_level(logging.WARNING, logger="hybrid.predictor"):
        build_predictor(settings)

    assert "configured pair" not in caplog.text


def test_wordllama_embeddings_are_unit_and_stable() -> None:
    from hybrid.embedders import WordLlamaEmbedder

    embedder = WordLlamaEmbedder()
    first = embedder.embed(["route me", "a longer prompt about physics"])
    second = embedder.embed(["route me"])

    assert first.shape == (2, 256)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(first[0], second[0])


def test_unknown_router_name_rejected() -> None:
    with pytest.raises(ConfigurationError, match="mf-wordllama-length"):
        load_router("no-such-router")
