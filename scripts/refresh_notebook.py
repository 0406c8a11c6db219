"""Re-run the pt-BR demo notebook in replay mode and save it with its new outputs.

Run from the repository root with the project's interpreter, without provider keys:

    env -u OPENAI_API_KEY -u GROQ_API_KEY .venv/bin/python scripts/refresh_notebook.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "hybrid_demo_pt_br.ipynb"
KERNEL_NAME = "hybrid-notebook-refresh"


def main() -> int:
    for name in ("OPENAI_API_KEY", "GROQ_API_KEY"):
        if os.environ.get(name):
            print(f"unset {name}: the saved notebook must show a replay run", file=sys.stderr)
            return 2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with tempfile.TemporaryDirectory() as folder:
        # A kernelspec for this interpreter, so the kernel imports the same hybrid.
        kernel_dir = Path(folder) / "kernels" / KERNEL_NAME
        kernel_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "hybrid", "language": "python"}
        (kernel_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        os.environ["JUPYTER_PATH"] = folder

        notebook = nbformat.read(NOTEBOOK, as_version=4)
        kernelspec = notebook.metadata.get("kernelspec")
        client = NotebookClient(notebook, timeout=600, kernel_name=KERNEL_NAME, record_timing=False,
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()
        if kernelspec is not None:
            notebook.metadata["kernelspec"] = kernelspec

    nbformat.write(notebook, NOTEBOOK)
    print(f"saved {NOTEBOOK} with fresh outputs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
