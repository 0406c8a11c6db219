#!/usr/bin/env bash
# Install everything, then run the offline demo on the recorded answers in ../shared/data.
# Without that folder, the RouteLLM files are downloaded into the cache on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True

DATA=${HYBRID_DEMO_DATA:-../shared/data/routellm-evals}
ROUTERBENCH=${HYBRID_DEMO_ROUTERBENCH:-../shared/data/routerbench-0shot}
args=()
if [ -d "$DATA" ]; then
    args+=(--data "$DATA")
fi
if [ -d "$ROUTERBENCH" ]; then
    args+=(--routerbench "$ROUTERBENCH")
fi
exec .venv/bin/hybrid demo "${args[@]}" "$@"
