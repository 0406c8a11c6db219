"""Tests of the pt-BR demo notebook, executed headless from top to bottom, and of its committed outputs.

The notebook runs in a fresh ipykernel on this test's interpreter, with
notebooks/ as the working directory. A cell inserted before the notebook's
first cell refuses connections to any address but loopback inside the kernel,
as tests/conftest.py does in this process. Replay mode runs without keys. Live
mode runs with test keys against a FakeProvider on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from fakeprovider import GROQ_CHAT_PATH, OPENAI_CHAT_PATH, FakeProvider, Fault, answer_nonce, verdict_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "hybrid_demo_pt_br.ipynb"
RECORDED_DATA = ROOT.parent / "shared" / "data" / "routellm-evals"
CELL_TIMEOUT_S = 600
KERNEL_NAME = "hybrid-notebook-test"

OPENAI_KEY = "sk-test-notebook-Qm73xKEY"
GROQ_KEY = "gsk-test-notebook-Lw58yKEY"
KEY_VARIABLES = ("OPENAI_API_KEY", "GROQ_API_KEY")

REPLAY_LINE = "Modo REPLAY offline"
LIVE_LINE = "Modo AO VIVO"

# Source of the cell that the test inserts first. It is never saved into the notebook.
LOOPBACK_GUARD = '''
import socket

_real_connect = socket.socket.connect


def _loopback_only_connect(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in {"localhost", "127.0.0.1", "::1"} and not str(host).startswith("127."):
        raise ConnectionRefusedError(f"the notebook test allows only loopback connections, not {host!r}")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only_connect
'''

requires_recorded_data = pytest.mark.skipif(
    not RECORDED_DATA.is_dir(),
    reason=f"recorded data not found at {RECORDED_DATA}; the notebook reads it at run time",
)


def execute_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> NotebookNode:
    """Execute a copy of the notebook in a fresh kernel with `env` added, and return it with its outputs.

    Raises nbclient's CellExecutionError at the first cell that fails.
    """
    # A kernelspec for this interpreter, so the kernel imports the hybrid that this test imports.
    kernel_dir = tmp_path / "jupyter" / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "hybrid notebook test", "language": "python"}
    (kernel_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    # The notebook writes its decision log under tempfile's directory, which this keeps inside the test's folder.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))

    # The kernel inherits this environment, so drop developer settings and set keys only when `env` has them.
    for name in [*KEY_VARIABLES, *(name for name in list(os.environ) if name.startswith("HYBRID_"))]:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(LOOPBACK_GUARD))
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return notebook


def tagged_cell(notebook: NotebookNode, tag: str) -> NotebookNode:
    cells = [cell for cell in notebook.cells if tag in cell.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def stream_text(cell: NotebookNode) -> str:
    return "".join(output.text for output in cell.outputs if output.output_type == "stream")


def output_formats(cell: NotebookNode) -> set[str]:
    return {key for output in cell.outputs if output.output_type in ("execute_result", "display_data")
            for key in output.data}


def all_output_text(notebook: NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"])


def fake_model_reply(request: dict) -> Fault:
    """Build the fake provider's reply to one live-mode request.

    The parallel judge gets a choice, the judge gets a verdict and every other
    call gets a fixed text. The judge rejects the answer to the proof question,
    so the live run also takes the fallback path.
    """
    text = json.dumps(request.get("messages", []), ensure_ascii=False)
    if "<candidate-A-" in text:
        content = json.dumps({"choice": "A", "reason": "fake provider"})
    elif "<answer-" in text:
        verdict = "reject" if "raiz quadrada" in text else "accept"
        content = verdict_text(verdict, "fake provider", answer_nonce(request))
    else:
        content = "resposta de teste"
    # A status-200 fault with a body is sent as a normal chat completion, with the fields it lacks filled in.
    return Fault(status=200, body={"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                                "finish_reason": "stop"}]})


@requires_recorded_data
def test_notebook_runs_in_replay_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = execute_notebook(tmp_path, monkeypatch, {})

    assert REPLAY_LINE in stream_text(tagged_cell(notebook, "mode-switch"))
    assert "ReplayMissError" in stream_text(tagged_cell(notebook, "replay-miss"))
    assert "text/html" in output_formats(tagged_cell(notebook, "decision-log"))
    assert "text/html" in output_formats(tagged_cell(notebook, "decision-log-summary"))
    assert "image/png" in output_formats(tagged_cell(notebook, "quality-cost-plot"))

    server = tagged_cell(notebook, "server")
    assert "Servidor parado: True" in stream_text(server)
    assert "hybrid-mf-" in json.dumps(server.outputs)


@requires_recorded_data
def test_notebook_runs_live_against_fake_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeProvider() as provider:
        provider.respond(fake_model_reply)
        notebook = execute_notebook(tmp_path, monkeypatch, {
            "OPENAI_API_KEY": OPENAI_KEY,
            "GROQ_API_KEY": GROQ_KEY,
            "HYBRID_OPENAI_BASE_URL": provider.url + "/v1",
            "HYBRID_GROQ_BASE_URL": provider.url,
        })
        received = provider.requests

    assert LIVE_LINE in stream_text(tagged_cell(notebook, "mode-switch"))
    assert "ReplayMissError" not in stream_text(tagged_cell(notebook, "replay-miss"))
    assert "image/png" in output_formats(tagged_cell(notebook, "quality-cost-plot"))
    assert "Servidor parado: True" in stream_text(tagged_cell(notebook, "server"))

    judge_requests = [request for request in received if "<answer-" in json.dumps(request.body)]
    choice_requests = [request for request in received if "<candidate-A-" in json.dumps(request.body)]
    assert any(request.path == GROQ_CHAT_PATH for request in judge_requests)
    assert choice_requests, "the parallel cell never asked the judge to choose"
    assert any(request.path == OPENAI_CHAT_PATH for request in received), "no call reached the strong model"

    outputs = all_output_text(notebook)
    assert OPENAI_KEY not in outputs
    assert GROQ_KEY not in outputs


def test_committed_notebook_shows_a_real_run() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]

    counts = [cell.execution_count for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), f"cells were not run once, top to bottom: {counts}"
    assert not [cell for cell in code_cells if any(output.output_type == "error" for output in cell.outputs)]

    mode_line = stream_text(tagged_cell(notebook, "mode-switch"))
    assert REPLAY_LINE in mode_line or LIVE_LINE in mode_line
    assert "image/png" in output_formats(tagged_cell(notebook, "quality-cost-plot"))


def test_committed_notebook_outputs_leak_nothing() -> None:
    outputs = all_output_text(nbformat.read(NOTEBOOK, as_version=4))

    assert not re.findall(r"/(?:work|home|root|Users|tmp)/", outputs), "an absolute machine path is in the outputs"
    assert not re.findall(r"\b(?:sk|gsk)[-_][A-Za-z0-9_-]{16,}", outputs), "something like an API key is in the outputs"


def test_colab_badge_points_at_notebook() -> None:
    first = nbformat.read(NOTEBOOK, as_version=4).cells[0]
    badge = re.search(r"\(https://colab\.research\.google\.com/github/([^)\s]+)\)", first.source)

    assert first.cell_type == "markdown"
    assert badge is not None, "the first cell has no Open in Colab link"
    assert badge.group(1).endswith("/blob/main/notebooks/hybrid_demo_pt_br.ipynb")
