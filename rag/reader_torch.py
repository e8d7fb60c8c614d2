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

LN_EPS = 1e-12


class Reader(nn.Module):
    def __init__(self, weights: dict[str, np.ndarray], layers: int, heads: int, trainable_from: int):
        super().__init__()
        self.layers, self.heads, self.trainable_from = layers, heads, trainable_from
        self.names = sorted(weights)
        self.weights = nn.ParameterDict()
        for name in self.names:
            trainable = name.startswith("qa.") or _layer_of(name) >= trainable_from
            self.weights[name.replace(".", "__")] = nn.Parameter(
                torch.tensor(np.asarray(weights[name], dtype=np.float32)), requires_grad=trainable)

    def w(self, name: str) -> torch.Tensor:
        return self.weights[name.replace(".", "__")]

    def trained(self) -> dict[str, np.ndarray]:
        """The parameters fitting changes: the top layers and the span head."""
        return {n: self.w(n).detach().float().cpu().numpy() for n in self.names
                if n.startswith("qa.") or _layer_of(n) >= self.trainable_from}

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
        return F.linear(x, self.w(name + ".weight"), self.w(name + ".bias"))

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w(name + ".weight"), self.w(name + ".bias"), LN_EPS)


def _layer_of(name: str) -> int:
    parts = name.split(".")
    return int(parts[2]) if parts[:2] == ["encoder", "layer"] else -1
