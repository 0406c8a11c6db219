#!/usr/bin/env bash
# Run the test suite offline. Installs into .venv first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/pytest ]; then
    bash scripts/install.sh
fi
export HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
