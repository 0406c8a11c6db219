#!/usr/bin/env bash
# Create .venv (or reuse it), install hybrid with its test and chat UI extras, and install Chromium for the UI test.
# torch is installed first from the pinned CPU build, so no CUDA packages are pulled.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi

.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    # On machines without a local CPU wheel, set TORCH_INDEX_URL to PyTorch's CPU wheel index.
    .venv/bin/python -m pip install --quiet "torch==${TORCH_VERSION}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
.venv/bin/python -m pip install --quiet -e ".[test,ui]"

# The chat UI browser test drives Debian's Chromium, which this script installs when it is missing.
bash scripts/install-browser.sh
