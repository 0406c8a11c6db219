"""Shared pytest setup: offline settings for LiteLLM and Hugging Face, and the fake_provider fixture."""

import os
from collections.abc import Iterator

import pytest

from fakeprovider import FakeProvider

# LiteLLM downloads its model cost map at import time unless LITELLM_LOCAL_MODEL_COST_MAP is set,
# and pytest imports this file before any test module can import litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """Start a FakeProvider on 127.0.0.1 and close it after the test."""
    with FakeProvider() as provider:
        yield provider
