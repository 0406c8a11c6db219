"""Price lookup: settings first, then LiteLLM's map, never an exception."""

from __future__ import annotations

import litellm
import pytest

from hybrid.costs import PriceTable
from hybrid.settings import ModelPrice


def test_litellm_price_used() -> None:
    entry = litellm.model_cost["gpt-4o"]

    cost = PriceTable().cost("gpt-4o", 1000, 200)

    assert cost == pytest.approx(1000 * entry["input_cost_per_token"] + 200 * entry["output_cost_per_token"])


def test_groq_model_found_without_prefix() -> None:
    entry = litellm.model_cost["groq/openai/gpt-oss-120b"]

    assert PriceTable().cost("openai/gpt-oss-120b", 10, 10) == pytest.approx(
        10 * entry["input_cost_per_token"] + 10 * entry["output_cost_per_token"])


def test_unknown_model_costs_none(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable()

    assert table.cost("llama3-70b-8192", 10, 10) is None
    assert table.cost("llama3-70b-8192", 10, 10) is None
    assert caplog.text.count("HYBRID_PRICES") == 1


def test_settings_price_wins() -> None:
    table = PriceTable({"gpt-4o": ModelPrice(input_per_million=1.0, output_per_million=2.0)})

    assert table.cost("gpt-4o", 1_000_000, 500_000) == pytest.approx(2.0)


def test_missing_usage_costs_none() -> None:
    assert PriceTable().cost("gpt-4o", None, 10) is None
