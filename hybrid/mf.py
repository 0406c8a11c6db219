"""RouteLLM's matrix-factorization model: import, load, save and score.

hybrid keeps routellm's `MFModel` class and checkpoint layout (`config.json` and
`model.safetensors`), so the published checkpoint and the ones trained here load
the same way. Scoring does not go through `MFModel.forward`, which fetches an
OpenAI embedding itself; hybrid embeds the prompt with the configured embedder
and applies the same arithmetic.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid.errors import ConfigurationError, PredictionError

if TYPE_CHECKING:
    import torch

__all__ = ["MFCheckpoint", "load_mf_checkpoint", "mf_model_class", "mf_model_for_vector", "save_mf_checkpoint"]

EXPECTED_WEIGHTS = frozenset({"P.weight", "text_proj.0.weight", "classifier.0.weight"})
METADATA_FILE = "hybrid.json"

# The published routellm/mf_gpt4_augmented architecture, from routellm 0.2.0's
# MatrixFactorizationRouter defaults.
OFFICIAL_CONFIG = {"dim": 128, "num_models": 64, "text_dim": 1536, "num_classes": 1, "use_proj": True}

_ROUTELLM_CLIENT_MODULE = "routellm.routers.similarity_weighted.utils"


class _DisabledOpenAIClient:
    """Stand-in for the OpenAI client that routellm builds at import time."""

    def __getattr__(self, name: str) -> Any:
        raise PredictionError(
            "routellm's built-in OpenAI client is disabled inside hybrid; "
            "hybrid computes prompt embeddings with its own embedder"
        )


def mf_model_class() -> tuple[type, dict[str, int]]:
    """Import routellm's `MFModel` and `MODEL_IDS` without an OpenAI key.

    routellm 0.2.0 builds `OpenAI()` when its similarity-weighted utils module is
    imported, and that raises when OPENAI_API_KEY is unset. For the length of the
    import, a stand-in module supplies a client that raises if used; it is removed
    again so a later import of the real module is unaffected.
    """
    module_name = "routellm.routers.matrix_factorization.model"
    if module_name in sys.modules:
        module = sys.modules[module_name]
        return module.MFModel, module.MODEL_IDS

    stand_in_added = _ROUTELLM_CLIENT_MODULE not in sys.modules
    if stand_in_added:
        stand_in = types.ModuleType(_ROUTELLM_CLIENT_MODULE)
        stand_in.OPENAI_CLIENT = _DisabledOpenAIClient()  # type: ignore[attr-defined]
        sys.modules[_ROUTELLM_CLIENT_MODULE] = stand_in

    try:
        from routellm.routers.matrix_factorization import model as module
    finally:
        if stand_in_added:
            sys.modules.pop(_ROUTELLM_CLIENT_MODULE, None)

    return module.MFModel, module.MODEL_IDS


@dataclass
class MFCheckpoint:
    """A loaded MF model plus the metadata hybrid stores beside it."""

    model: torch.nn.Module
    config: dict[str, Any]
    metadata: dict[str, Any]
    source: str

    @property
    def text_dim(self) -> int:
        return int(self.config["text_dim"])

    def model_id(self, name: str) -> int:
        """Return the row of `P` for a model name known to the checkpoint."""
        _, model_ids = mf_model_class()
        ids = {**model_ids, **self.metadata.get("model_ids", {})}
        if name not in ids:
            raise ConfigurationError(
                f"model {name!r} has no row in checkpoint {self.source}; "
                f"use one of the names it was trained on, such as {sorted(self.metadata.get('model_ids', {})) or 'gpt-4-1106-preview'}",
                setting="HYBRID_ROUTER_PAIR",
            )
        return int(ids[name])

    def scoring_vector(self, strong_id: int, weak_id: int) -> np.ndarray:
        """Collapse the model to one vector v with win_rate = sigmoid(v · embedding).

        MFModel scores `classifier(normalize(P[m]) * (W_proj @ e))` per model and
        the win rate is the sigmoid of the strong minus the weak score. Every
        step is linear in e, so the difference is `((c * (p_s - p_w)) @ W_proj) · e`.
        """
        import torch

        with torch.no_grad():
            rows = torch.nn.functional.normalize(self.model.P.weight[[strong_id, weak_id]], p=2, dim=1)
            classifier = self.model.classifier[0].weight[0]
            projection = self.model.text_proj[0].weight
            vector = (classifier * (rows[0] - rows[1])) @ projection

        return vector.double().numpy()


def mf_model_for_vector(vector: np.ndarray, strong_id: int, weak_id: int, config: dict[str, Any]) -> torch.nn.Module:
    """Build an `MFModel` whose scoring vector for (strong_id, weak_id) is exactly `vector`.

    Row `strong_id` of `P` is the first unit vector and row `weak_id` its negative,
    so their normalised difference is twice the first unit vector. The classifier
    keeps only the first coordinate, and the first row of the projection is
    `vector / 2`. Every other weight is zero. This stores a logistic regression on
    the embedding, fitted directly, in routellm's `mf` format.
    """
    import torch

    values = np.asarray(vector, dtype=np.float64)
    if values.shape != (int(config["text_dim"]),):
        raise PredictionError(f"scoring vector has shape {values.shape}, but the config expects ({config['text_dim']},)")
    if strong_id == weak_id:
        raise PredictionError(f"strong and weak model ids are both {strong_id}; the pair needs two rows of P")

    # Typed as Any because torch types submodule attributes as `Tensor | Module`.
    model: Any = _build_model(config, source="a fitted scoring vector")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.P.weight[strong_id, 0] = 1.0
        model.P.weight[weak_id, 0] = -1.0
        model.classifier[0].weight[0, 0] = 1.0
        model.text_proj[0].weight[0] = torch.as_tensor(values / 2.0, dtype=model.text_proj[0].weight.dtype)
    return model.eval()


def load_mf_checkpoint(source: str | Path) -> MFCheckpoint:
    """Load an MF checkpoint from a local directory or a Hugging Face Hub repository id.

    Weights are loaded strictly: a file whose weight names differ from MFModel's
    raises instead of leaving the model randomly initialised, which is what
    routellm's own loader does with `strict=False`.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return _load_local(path)

    if Path(str(source)).suffix or str(source).startswith((".", "/", "~")):
        raise ConfigurationError(
            f"router checkpoint {str(source)!r} is not a directory; point HYBRID_CHECKPOINT "
            "at a folder holding config.json and model.safetensors",
            setting="HYBRID_CHECKPOINT",
        )

    return _load_from_hub(str(source))


def save_mf_checkpoint(model: torch.nn.Module, config: dict[str, Any], metadata: dict[str, Any], path: Path) -> None:
    """Write `config.json`, `model.safetensors` and hybrid's metadata to `path`."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (path / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def _load_local(path: Path) -> MFCheckpoint:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_file = path / "model.safetensors"
    if not weights_file.is_file():
        raise ConfigurationError(
            f"router checkpoint {path} has no model.safetensors; retrain it with `hybrid train-router` "
            "or point HYBRID_CHECKPOINT at another folder",
            setting="HYBRID_CHECKPOINT",
        )

    config = {**OFFICIAL_CONFIG, **_read_json(path / "config.json", default={})}
    metadata = _read_json(path / METADATA_FILE, default={})
    try:
        state = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError) as error:
        raise ConfigurationError(
            f"router checkpoint {weights_file} is corrupt ({error}); retrain it with `hybrid train-router`",
            setting="HYBRID_CHECKPOINT",
        ) from error

    model = _build_model(config, source=str(path))
    _check_weight_names(set(state), source=str(weights_file))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ConfigurationError(
            f"router checkpoint {weights_file} does not match its config.json: {error}",
            setting="HYBRID_CHECKPOINT",
        ) from error

    return MFCheckpoint(model=model.eval(), config=config, metadata=metadata, source=str(path))


def _load_from_hub(repo_id: str) -> MFCheckpoint:
    MFModel, _ = mf_model_class()
    try:
        model = MFModel.from_pretrained(repo_id, strict=True, **OFFICIAL_CONFIG)
    except Exception as error:  # huggingface_hub raises many unrelated types here
        raise ConfigurationError(
            f"could not load router checkpoint {repo_id!r} from the Hugging Face Hub ({type(error).__name__}: {error}); "
            "check the network and HF_HUB_OFFLINE, or set HYBRID_CHECKPOINT to a local folder",
            setting="HYBRID_CHECKPOINT",
        ) from error

    return MFCheckpoint(model=model.eval(), config=dict(OFFICIAL_CONFIG), metadata={}, source=repo_id)


def _build_model(config: dict[str, Any], *, source: str) -> torch.nn.Module:
    MFModel, _ = mf_model_class()
    try:
        return MFModel(
            dim=int(config["dim"]),
            num_models=int(config["num_models"]),
            text_dim=int(config["text_dim"]),
            num_classes=int(config["num_classes"]),
            use_proj=bool(config["use_proj"]),
        )
    except (KeyError, TypeError, ValueError, AssertionError) as error:
        raise ConfigurationError(
            f"router checkpoint {source} has an invalid config.json ({error})", setting="HYBRID_CHECKPOINT"
        ) from error


def _check_weight_names(names: set[str], *, source: str) -> None:
    if names != EXPECTED_WEIGHTS:
        raise ConfigurationError(
            f"router checkpoint {source} holds weights {sorted(names)}, but MFModel expects "
            f"{sorted(EXPECTED_WEIGHTS)}; loading it would leave the router random",
            setting="HYBRID_CHECKPOINT",
        )


def _read_json(path: Path, *, default: dict[str, Any]) -> dict[str, Any]:
    if not path.exists():
        return dict(default)
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"cannot read {path}: {error}", setting="HYBRID_CHECKPOINT") from error
    if not isinstance(value, dict):
        raise ConfigurationError(f"{path} must hold a JSON object", setting="HYBRID_CHECKPOINT")
    return value
