"""The reader as a torch module: MiniLM's encoder (BERT, post-LayerNorm) with a span head.

Used to fit the reader (`rag fit-reader`) and, once per parameter file, to export it to
OpenVINO; answering never imports this module. Written out rather than taken from transformers
so that the layers the fitted file replaces have stable names across transformers releases.

Weights are MiniLM's own names (`encoder.layer.3.attention.self.query.weight`, ...) plus
`qa.weight` / `qa.bias`, the span head: one start and one end logit per token.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .reader import LORA_A, LORA_B

LN_EPS = 1e-12
HEADS = ("qa.", "judge.")  # the fitted heads: the reader's span head, the judge's (MPNetJudge)


class Reader(nn.Module):
    """`lora`: a rank; when set, the matrices of the layers from `trainable_from` stay frozen and
    each gets a low-rank update B @ A that is fitted instead (with the layers' biases and norms)."""

    def __init__(self, weights: dict[str, np.ndarray], layers: int, heads: int, trainable_from: int, lora: int = 0):
        super().__init__()
        self.layers, self.heads, self.trainable_from, self.rank = layers, heads, trainable_from, lora
        self.names = sorted(weights)
        self.weights = nn.ParameterDict()
        self.adapted: list[str] = []
        for name in self.names:
            value = torch.tensor(np.asarray(weights[name], dtype=np.float32))
            fitted = name.startswith(HEADS) or _layer_of(name) >= trainable_from
            adapted = bool(lora) and fitted and value.ndim == 2 and not name.startswith(HEADS)
            self.weights[_key(name)] = nn.Parameter(value, requires_grad=fitted and not adapted)
            if adapted:
                self.adapted.append(name)
                out_features, in_features = value.shape
                self.weights[_key(name) + "__lora_a"] = nn.Parameter(torch.randn(lora, in_features) / math.sqrt(in_features))
                self.weights[_key(name) + "__lora_b"] = nn.Parameter(torch.zeros(out_features, lora))

    def w(self, name: str) -> torch.Tensor:
        return self.weights[_key(name)]

    def trained(self) -> dict[str, np.ndarray]:
        """The parameters fitting changes: the top layers (or their low-rank updates, as
        `NAME::lora_a` and `NAME::lora_b`, whose product is added to NAME) and the span head."""
        out = {n: self.w(n).detach().float().cpu().numpy() for n in self.names
               if (n.startswith(HEADS) or _layer_of(n) >= self.trainable_from) and n not in self.adapted}
        for n in self.adapted:
            out[n + LORA_A] = self.weights[_key(n) + "__lora_a"].detach().float().cpu().numpy()
            out[n + LORA_B] = self.weights[_key(n) + "__lora_b"].detach().float().cpu().numpy()
        return out

    def embed(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        positions = torch.cumsum(torch.ones_like(ids), 1) - 1  # no fixed length: the export stays dynamic
        x = F.embedding(ids, self.w("embeddings.word_embeddings.weight"))
        x = x + F.embedding(positions, self.w("embeddings.position_embeddings.weight"))
        x = x + F.embedding(types, self.w("embeddings.token_type_embeddings.weight"))
        return self._norm(x, "embeddings.LayerNorm")

    def bottom(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the frozen layers (what fitting caches once)."""
        x = self.embed(ids, types)
        for i in range(self.trainable_from):
            x = self.layer(x, mask, i)
        return x

    def top(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for i in range(self.trainable_from, self.layers):
            x = self.layer(x, mask, i)
        logits = F.linear(x, self.w("qa.weight"), self.w("qa.bias"))
        return logits[..., 0], logits[..., 1]

    def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor):
        return self.top(self.bottom(ids, types, mask), mask)

    def layer(self, x: torch.Tensor, mask: torch.Tensor, i: int) -> torch.Tensor:
        p = f"encoder.layer.{i}."
        width = x.shape[-1]
        q, k, v = (self._linear(x, p + f"attention.self.{n}").unflatten(-1, (self.heads, width // self.heads)).transpose(1, 2)
                   for n in ("query", "key", "value"))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        # written out rather than scaled_dot_product_attention, whose OpenVINO conversion failed to
        # broadcast this mask over batches of another shape than the export's example
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(width // self.heads) + bias, dim=-1)
        attended = (weights @ v).transpose(1, 2).flatten(2)
        x = self._norm(x + self._linear(attended, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        hidden = self._linear(x, p + "intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + torch.erf(hidden / math.sqrt(2.0)))
        return self._norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        out = F.linear(x, self.w(name + ".weight"), self.w(name + ".bias"))
        if self.rank and name + ".weight" in self.adapted:
            key = _key(name + ".weight")
            out = out + F.linear(F.linear(x, self.weights[key + "__lora_a"]), self.weights[key + "__lora_b"])
        return out

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w(name + ".weight"), self.w(name + ".bias"), LN_EPS)


def _key(name: str) -> str:
    return name.replace(".", "__")


def _layer_of(name: str) -> int:
    parts = name.split(".")
    return int(parts[2]) if parts[:2] == ["encoder", "layer"] else -1


MPNET_LN_EPS = 1e-5
MPNET_PAD = 1  # mpnet's padding index: real tokens' positions start after it


class MPNetReader(Reader):
    """all-mpnet-base-v2's encoder (MPNet: pre-computed relative position buckets shared by every
    layer, absolute positions from 2, no token types) with the same span head. Weights keep the
    model's own names (`encoder.layer.11.attention.attn.q.weight`, ...)."""

    def embed(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        positions = torch.cumsum(torch.ones_like(ids), 1) + MPNET_PAD  # 2, 3, ...: padding sits after the text
        x = F.embedding(ids, self.w("embeddings.word_embeddings.weight"))
        x = x + F.embedding(positions, self.w("embeddings.position_embeddings.weight"))
        return self._norm(x, "embeddings.LayerNorm")

    def bottom(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids, types)
        bias = self.position_bias(x.shape[1])
        for i in range(self.trainable_from):
            x = self.layer(x, mask, i, bias)
        return x

    def top(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bias = self.position_bias(x.shape[1])
        for i in range(self.trainable_from, self.layers):
            x = self.layer(x, mask, i, bias)
        logits = F.linear(x, self.w("qa.weight"), self.w("qa.bias"))
        return logits[..., 0], logits[..., 1]

    def position_bias(self, length: int) -> torch.Tensor:
        """(1, heads, length, length): the learned bias of each relative distance's bucket."""
        steps = torch.cumsum(torch.ones(length, dtype=torch.long, device=self.w("encoder.relative_attention_bias.weight").device), 0) - 1
        buckets = _relative_bucket(steps[None, :] - steps[:, None])
        return F.embedding(buckets, self.w("encoder.relative_attention_bias.weight")).permute(2, 0, 1)[None]

    def layer(self, x: torch.Tensor, mask: torch.Tensor, i: int, bias: torch.Tensor | None = None) -> torch.Tensor:
        p = f"encoder.layer.{i}."
        width = x.shape[-1]
        q, k, v = (self._linear(x, p + f"attention.attn.{n}").unflatten(-1, (self.heads, width // self.heads)).transpose(1, 2)
                   for n in ("q", "k", "v"))
        masked = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        scores = q @ k.transpose(-1, -2) / math.sqrt(width // self.heads) + masked
        if bias is not None:
            scores = scores + bias
        attended = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).flatten(2)
        x = self._norm(x + self._linear(attended, p + "attention.attn.o"), p + "attention.LayerNorm")
        hidden = self._linear(x, p + "intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + torch.erf(hidden / math.sqrt(2.0)))
        return self._norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w(name + ".weight"), self.w(name + ".bias"), MPNET_LN_EPS)


def _relative_bucket(distance: torch.Tensor, buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """MPNet's (T5's) bidirectional log-spaced buckets of a relative distance (memory minus query)."""
    n = -distance
    half = buckets // 2
    out = (n < 0).to(torch.long) * half
    n = torch.abs(n)
    exact = half // 2
    large = exact + (torch.log(n.float().clamp(min=1) / exact) / math.log(max_distance / exact) * (half - exact)).to(torch.long)
    large = torch.clamp(large, max=half - 1)
    return out + torch.where(n < exact, n, large)


class MPNetJudge(MPNetReader):
    """all-mpnet-base-v2 with a judge head instead of the span head: one logit, from the first
    token's final state, that the text after the question answers it (rag.answer.judge)."""

    def top(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        bias = self.position_bias(x.shape[1])
        for i in range(self.trainable_from, self.layers):
            x = self.layer(x, mask, i, bias)
        return F.linear(x[:, 0], self.w("judge.weight"), self.w("judge.bias"))[:, 0]
