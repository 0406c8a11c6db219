"""The router variants that `hybrid eval` compares: shipped checkpoints or any checkpoint folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hybrid.embedders import make_embedder
from hybrid.errors import ConfigurationError
from hybrid.evaluation.embedding_cache import CachedEmbedder
from hybrid.mf import load_mf_checkpoint
from hybrid.predictor import CHECKPOINTS_DIR, MFPredictor, checkpoint_embedder, load_predictor

__all__ = ["load_router", "load_routers", "shipped_router_names"]


def shipped_router_names() -> list[str]:
    """Return the names of the checkpoint folders that ship inside the package, sorted."""
    return sorted(path.name for path in CHECKPOINTS_DIR.iterdir() if (path / "model.safetensors").is_file())


def load_router(name_or_path: str, *, cache_dir: Path | None = None) -> tuple[str, MFPredictor]:
    """Load a shipped checkpoint by folder name, or any local checkpoint folder, with the embedder it names.

    Returns the router's display name (the folder name) and its predictor. With
    `cache_dir`, embeddings are read from and added to an on-disk cache.
    """
    path = CHECKPOINTS_DIR / name_or_path
    if not path.is_dir():
        path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise ConfigurationError(
            f"router {name_or_path!r} is neither a shipped checkpoint ({', '.join(shipped_router_names())}) "
            "nor a checkpoint folder; pass one of those names or a folder holding config.json and model.safetensors",
        )

    checkpoint = load_mf_checkpoint(path)
    embedder_name = checkpoint_embedder(checkpoint)
    if embedder_name == "openai":
        raise ConfigurationError(
            f"checkpoint {path} needs OpenAI embeddings, which `hybrid eval` does not request; "
            "evaluate local checkpoints only"
        )

    embedder = make_embedder(embedder_name)
    if cache_dir is not None:
        embedder = CachedEmbedder(embedder, cache_dir)
    return path.name, load_predictor(checkpoint, embedder, name=path.name)


def load_routers(names: Sequence[str], *, cache_dir: Path | None = None) -> dict[str, MFPredictor]:
    """Load several routers, keyed by display name in the given order."""
    routers: dict[str, MFPredictor] = {}
    for name in names:
        display, predictor = load_router(name, cache_dir=cache_dir)
        routers[display] = predictor
    return routers
