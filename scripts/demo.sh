#!/usr/bin/env bash
# One command: set everything up, index seeds/ into index/default, and answer a question with
# verified quotes. `scripts/demo.sh "your question"` asks that instead; `scripts/demo.sh serve`
# opens the chat UI on http://127.0.0.1:7860 instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
bash scripts/setup.sh all
.venv/bin/rag index seeds --index index/default
if [ "${1:-}" = "serve" ]; then
    exec .venv/bin/rag serve --index index/default
fi
.venv/bin/rag ask "${1:-which countries have extradition treaties with Malaysia?}" --index index/default
