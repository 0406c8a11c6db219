"""The package surface: exports, lazy imports, and no network at import."""

from __future__ import annotations

import subprocess
import sys

import hybrid


def test_all_names_resolve() -> None:
    for name in hybrid.__all__:
        assert getattr(hybrid, name) is not None


def test_all_is_sorted_and_complete() -> None:
    assert hybrid.__all__ == sorted(hybrid.__all__)
    assert set(hybrid.__all__) == set(hybrid._HOMES)


def test_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, hybrid\n"
        "from hybrid import HybridRouter\n"
        "heavy = [m for m in ('torch', 'routellm', 'litellm', 'sentence_transformers', 'groq', 'openai') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == ""


def test_import_opens_no_socket() -> None:
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('socket opened at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import hybrid, hybrid.pipeline, hybrid.cli\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_default_router_leaves_logging_alone() -> None:
    code = (
        "import logging\n"
        "from hybrid.predictor import build_predictor\n"
        "from hybrid.settings import load_settings\n"
        "build_predictor(load_settings())\n"
        "print(len(logging.getLogger().handlers), logging.getLogger().level)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.split() == ["0", str(30)]  # no handler added, root still at WARNING
