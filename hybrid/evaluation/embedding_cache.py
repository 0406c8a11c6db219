"""An on-disk cache of prompt embeddings, so repeated evaluations embed each prompt once.

Vectors are stored per embedder in `.npz` shards under `<cache_dir>/<embedder name>/`,
keyed by the SHA-256 of the prompt text. A run that embeds new prompts adds one
shard; shards are never rewritten, so two runs can share a folder.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hybrid.embedders import Embedder
from hybrid.errors import DataError

__all__ = ["CachedEmbedder", "text_key"]

logger = logging.getLogger("hybrid.evaluation.embedding_cache")


def text_key(text: str) -> str:
    """Return the cache key of a prompt: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """An Embedder that serves stored vectors and embeds only prompts it has not seen."""

    def __init__(self, inner: Embedder, cache_dir: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.folder = Path(cache_dir) / inner.name
        self._vectors: dict[str, np.ndarray] = {}
        self._load()

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        keys = [text_key(text) for text in texts]

        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._vectors:
                missing.setdefault(key, text)
        if missing:
            self._add(list(missing), self.inner.embed(list(missing.values()), progress=progress))

        if not keys:
            return np.zeros((0, self.dim))
        return np.stack([self._vectors[key] for key in keys])

    def _add(self, keys: list[str], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        shard = self.folder / f"{uuid.uuid4().hex}.npz"
        np.savez(shard, keys=np.array(keys), vectors=vectors)
        self._vectors.update(zip(keys, vectors, strict=True))
        logger.info("cached %d %s embeddings in %s", len(keys), self.name, shard)

    def _load(self) -> None:
        for shard in sorted(self.folder.glob("*.npz")):
            try:
                with np.load(shard) as data:
                    keys, vectors = data["keys"], data["vectors"]
            except (OSError, KeyError, ValueError) as error:
                raise DataError(f"embedding cache shard {shard} is unreadable ({error}); delete it and run again") from error
            if vectors.shape != (len(keys), self.dim):
                raise DataError(
                    f"embedding cache shard {shard} contains vectors of shape {vectors.shape}, but the {self.name} "
                    f"embedder returns {self.dim} dimensions; delete {self.folder} and run again"
                )
            self._vectors.update(zip(keys.tolist(), vectors, strict=True))
