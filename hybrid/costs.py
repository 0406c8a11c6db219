"""Token prices, from settings first and then LiteLLM's bundled price map.

A lookup never raises into the request path: an unknown model prices as None,
which the decision record shows as an unknown cost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hybrid.settings import ModelPrice

__all__ = ["PriceTable"]

logger = logging.getLogger("hybrid.costs")


class PriceTable:
    """Looks up per-token prices; `prices` from settings take precedence."""

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self._overrides = dict(prices or {})
        self._cache: dict[str, ModelPrice | None] = {}
        self._warned: set[str] = set()

    def price(self, model: str) -> ModelPrice | None:
        """Return the price of `model`, trying the name with and without its provider prefix."""
        if model not in self._cache:
            self._cache[model] = self._lookup(model)
            if self._cache[model] is None and model not in self._warned:
                self._warned.add(model)
                logger.warning("no price known for model %s; its cost is recorded as unknown; add it to HYBRID_PRICES", model)
        return self._cache[model]

    def cost(self, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """Return the dollar cost of one call, or None when the price or the usage is unknown."""
        price = self.price(model)
        if price is None or prompt_tokens is None or completion_tokens is None:
            return None
        return (prompt_tokens * price.input_per_million + completion_tokens * price.output_per_million) / 1e6

    def _lookup(self, model: str) -> ModelPrice | None:
        candidates = [model, f"groq/{model}"]
        if "/" in model:
            candidates.append(model.split("/", 1)[1])

        for name in candidates:
            if name in self._overrides:
                return self._overrides[name]

        try:
            import litellm
        except ImportError:  # pragma: no cover - litellm is a hard dependency
            return None

        for name in candidates:
            entry = litellm.model_cost.get(name)
            if not entry:
                continue
            input_cost = entry.get("input_cost_per_token")
            output_cost = entry.get("output_cost_per_token")
            if input_cost is None or output_cost is None:
                continue
            return ModelPrice(input_per_million=float(input_cost) * 1e6, output_per_million=float(output_cost) * 1e6)
        return None
