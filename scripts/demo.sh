#!/usr/bin/env bash
# Install everything, then run the offline demo on the recorded answers in ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True
DATA=${HYBRID_DEMO_DATA:-../shared/data/routellm-evals}
if [ -d "$DATA" ]; then
    exec .venv/bin/hybrid demo --data "$DATA" "$@"
fi
exec .venv/bin/hybrid demo "$@"
