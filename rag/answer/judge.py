"""The answer judge: does this quote answer *this* question, or only stand near its words?

Verification proves a quote stands in its source; the reader finds the words of a passage that
best fit the question. Neither tells a near miss from an answer: asked how many *Indonesians* were
freed, the passage that counts the Thais, and names Indonesians among the rest, fits well. The
judge reads "question </s></s> sentence" (the quoted sentence after the one before it, as
`judge_text` joins them) with all-mpnet-base-v2 and a fitted head, and gives the probability that
the text answers the question. An answer whose quotes all fall below the threshold chosen on
articles it was not fitted on is withheld, whichever answerer wrote it (`JudgeCheck`).

The fitted part (low-rank updates of the upper layers and the head) ships in
`rag/answer/params/judge-mpnet.npz` with its card (`rag fit-judge` rebuilds both; docs/reader.md).
Like the reader, it is exported once to OpenVINO and answering never imports torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..embed.embedders import default_cache_dir, export_once
from ..text import sentences
from ..types import Claim, Hit
from .reader import ReaderFiles, compile_openvino, export_openvino

if TYPE_CHECKING:
    from tokenizers import Tokenizer

JUDGE_PARAMS = Path(__file__).parent / "params" / "judge-mpnet.npz"
EXPORT_VERSION = 1


def judge_text(spans: Sequence[tuple[int, int, str]], i: int) -> str:
    """What the judge reads of sentence i of `spans` (rag.text.sentences): it after the one before."""
    return " ".join(s[2] for s in spans[max(0, i - 1) : i + 1])


class AnswerJudge:
    """The fitted judge: `probabilities(question, texts)`, and the `threshold` chosen with it."""

    def __init__(self, files: ReaderFiles | None = None, *, runtime: str = "openvino", precision: str | None = None,
                 cache_dir: str | os.PathLike | None = None):
        self.files = files or ReaderFiles.mpnet(JUDGE_PARAMS)
        self.card = self.files.fitted()[1]
        self.runtime = runtime
        self.precision = precision
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._run: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return float(self.card["calibration"]["threshold"])

    def probabilities(self, question: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        with self._lock:
            if self._run is None:
                self._tokenizer = self.files.tokenizer()
                self._run = self._torch_runner() if self.runtime == "torch" else self._openvino_runner()
        assert self._tokenizer is not None
        encodings = self._tokenizer.encode_batch([(question, t) for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.ones((len(texts), width), dtype=np.int64)  # mpnet's padding id
        mask = np.zeros_like(ids)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return 1 / (1 + np.exp(-self._run(ids, mask)))

    def _model(self):
        from .reader_torch import MPNetJudge

        config = self.files.config()
        return MPNetJudge(self.files.weights(), config["num_hidden_layers"], config["num_attention_heads"],
                          int(self.card.get("trainable_from", 4))).eval()

    def _torch_runner(self):
        import torch

        model = self._model()

        def run(ids, mask):
            with torch.inference_mode():
                ids_t = torch.from_numpy(ids)
                return model(ids_t, torch.zeros_like(ids_t), torch.from_numpy(mask)).float().numpy()

        return run

    def _openvino_runner(self):
        compiled = compile_openvino(self.exported(), self.precision)

        def run(ids, mask):
            request = compiled.create_infer_request()  # per call: thread-safe
            request.infer([ids, mask])
            return request.get_output_tensor(0).data.copy()

        return run

    def exported(self) -> Path:
        target = (self.cache_dir or default_cache_dir()) / f"judge-{EXPORT_VERSION}-{self.files.key()}"
        return export_once(target, lambda folder: self._export(folder / "model.xml"))

    def _export(self, xml: Path) -> None:
        export_openvino(self._model, xml, "the judge", token_types=False)


def quoted_texts(claims: Sequence[Claim], hits: Sequence[Hit]) -> list[str]:
    """What the judge reads for each verified quote of the supported claims: the passage sentence
    the quote starts in, after the one before it (the quote itself where no passage holds it)."""
    out: list[str] = []
    for claim in claims:
        if not claim.supported:
            continue
        for cite in claim.citations:
            if not cite.verified:
                continue
            text = cite.quote
            for hit in hits:
                chunk = hit.chunk
                if chunk.source == cite.source and chunk.start <= cite.start < chunk.end:
                    spans = sentences(chunk.text, chunk.start)
                    inside = [i for i, (a, b, _) in enumerate(spans) if a <= cite.start < b]
                    if inside:
                        text = judge_text(spans, inside[0])
                    break
            out.append(text)
    return list(dict.fromkeys(out))


@dataclass
class JudgeCheck:
    """Withholds an answer none of whose quotes the judge takes to answer the question: every
    supported claim is marked unsupported, with the judge's figure, and the answer declines."""

    judge: AnswerJudge
    threshold: float | None = None  # None: the judge's own

    def __call__(self, question: str, claims: Sequence[Claim], hits: Sequence[Hit]) -> tuple[tuple[Claim, ...], float | None]:
        """(the claims, withheld if need be; the best quote's probability of answering, None without quotes)."""
        texts = quoted_texts(claims, hits)
        if not texts:
            return tuple(claims), None
        best = float(self.judge.probabilities(question, texts).max())
        floor = self.judge.threshold if self.threshold is None else self.threshold
        if best >= floor:
            return tuple(claims), best
        problem = (f"does not answer the question: the judge gives its quotes at most {best:.2f} "
                   f"of answering it, below {floor:.2f}")
        return tuple(replace(c, supported=False, problems=(*c.problems, problem)) if c.supported else c for c in claims), best
