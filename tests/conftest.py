"""Shared pytest setup: offline settings for LiteLLM and Hugging Face, and the fake_provider fixture."""

import os
import socket
from collections.abc import Iterator

import pytest

from fakeprovider import FakeProvider

# LiteLLM downloads its model cost map at import time unless LITELLM_LOCAL_MODEL_COST_MAP is set,
# and pytest imports this file before any test module can import litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_real_connect = socket.socket.connect


def _loopback_only_connect(self: socket.socket, address: object) -> None:
    """Refuse any connection that is not to this machine, so a test can never reach a provider."""
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in _LOOPBACK_NAMES and not str(host).startswith("127."):
        raise ConnectionRefusedError(f"tests may only connect to loopback addresses, not {host!r}")
    _real_connect(self, address)


socket.socket.connect = _loopback_only_connect  # type: ignore[method-assign]


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """Start a FakeProvider on 127.0.0.1 and close it after the test."""
    with FakeProvider() as provider:
        yield provider


@pytest.fixture(scope="session")
def shipped_predictor() -> object:
    """The shipped default router checkpoint with its embedder, loaded once per test session."""
    from hybrid.predictor import CachedPredictor, build_predictor
    from hybrid.settings import load_settings

    # Cached, so each recorded prompt is embedded once per session however many tests replay it.
    return CachedPredictor(build_predictor(load_settings()))
