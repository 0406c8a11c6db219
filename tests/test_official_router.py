"""Official mode: routellm's MF architecture over OpenAI embeddings, served by a loopback endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import openai
import pytest
import torch

from fakeprovider import FakeProvider
from hybrid.errors import ConfigurationError, PredictionError
from hybrid.mf import OFFICIAL_CONFIG, load_mf_checkpoint, mf_model_class, save_mf_checkpoint
from hybrid.predictor import build_predictor
from hybrid.settings import load_settings

KEY = "sk-test-embeddings-Hk29KEY"
PROMPTS = ["Prove that there are infinitely many primes.", "Say hi.", "Translate 'bom dia' to English."]


@pytest.fixture
def official_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint with the published architecture (1536-dim input) and seeded random weights."""
    MFModel, _ = mf_model_class()
    torch.manual_seed(7)
    model = MFModel(**OFFICIAL_CONFIG)
    save_mf_checkpoint(model, dict(OFFICIAL_CONFIG), {}, tmp_path / "official")
    return tmp_path / "official"


def test_win_rate_matches_routellm(fake_provider: FakeProvider, official_checkpoint: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(embedder="openai", checkpoint=str(official_checkpoint),
                             openai_base_url=fake_provider.url + "/v1", openai_api_key=KEY)
    predictor = build_predictor(settings)

    ours = predictor.win_rates(PROMPTS)

    # routellm's own path: MFModel.pred_win_rate with its module client aimed at the loopback server.
    module = sys.modules["routellm.routers.matrix_factorization.model"]
    monkeypatch.setattr(module, "OPENAI_CLIENT", openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=KEY))
    reference = load_mf_checkpoint(official_checkpoint).model
    expected = [reference.pred_win_rate(24, 36, prompt) for prompt in PROMPTS]

    assert ours == pytest.approx(expected, abs=1e-6)
    assert len(set(np.round(ours, 6))) == len(PROMPTS)

    embedding_requests = fake_provider.requests_to("/v1/embeddings")
    assert embedding_requests[0].body["model"] == "text-embedding-3-small"
    assert embedding_requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_official_mode_needs_key(official_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = load_settings(embedder="openai", checkpoint=str(official_checkpoint),
                             openai_base_url="http://127.0.0.1:9/v1")

    with pytest.raises(ConfigurationError, match="HYBRID_OPENAI_API_KEY"):
        build_predictor(settings)


def test_embedding_failure_is_prediction_error(fake_provider: FakeProvider, official_checkpoint: Path) -> None:
    from fakeprovider import Fault

    fake_provider.fault(Fault.server_error(500), path="/v1/embeddings")
    settings = load_settings(embedder="openai", checkpoint=str(official_checkpoint), strong_retries=0,
                             openai_base_url=fake_provider.url + "/v1", openai_api_key=KEY)
    predictor = build_predictor(settings)

    with pytest.raises(PredictionError, match="HTTP 500"):
        predictor.win_rates(["hello"])


def test_routellm_client_is_disabled() -> None:
    module = sys.modules.get("routellm.routers.matrix_factorization.model")
    if module is None:
        mf_model_class()
        module = sys.modules["routellm.routers.matrix_factorization.model"]

    utils = sys.modules.get("routellm.routers.similarity_weighted.utils")
    assert utils is None or hasattr(utils, "compute_tiers")  # the stand-in is gone after the import
    with pytest.raises(PredictionError):
        module.OPENAI_CLIENT.embeddings


def test_embedder_dimension_mismatch(official_checkpoint: Path) -> None:
    settings = load_settings(embedder="minilm", checkpoint=str(official_checkpoint))

    with pytest.raises(ConfigurationError, match="HYBRID_EMBEDDER"):
        build_predictor(settings)


def test_checkpoint_with_foreign_names_rejected(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    folder = tmp_path / "foreign"
    folder.mkdir()
    # routellm's training script saves a differently named projection; a lenient loader ignores it.
    save_file({"P.weight": torch.zeros(64, 128), "text_proj.weight": torch.zeros(128, 1536),
               "classifier.weight": torch.zeros(1, 128)}, str(folder / "model.safetensors"))

    with pytest.raises(ConfigurationError, match="expects"):
        load_mf_checkpoint(folder)


def test_corrupt_checkpoint_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")

    with pytest.raises(ConfigurationError, match="corrupt"):
        load_mf_checkpoint(folder)
