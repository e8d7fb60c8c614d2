"""Distributed embedding on Ray: `RayEmbedder` runs large `embed()` calls as a Ray Data job.

Each job streams the texts through `map_batches` on a pool of actors, each of which loads the
model once (`make_embedder(settings.embedding_model)`), and returns the vectors in input order.
Queries and lists no longer than one batch go through the local embedder: starting a job costs
more than embedding them. It wraps any `Embedder`, so it writes into any vector store.

Ray starts on first use: on the cluster that `RAY_ADDRESS` names, or else a local one.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..errors import MissingDependencyError
from ..settings import Settings
from .embedders import Embedder, make_embedder


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise MissingDependencyError("ray[data]", "pip install 'ray[data]'") from err
    return ray


class _EmbedBatch:
    """A Ray Data actor: loads the model in its constructor, then embeds one batch per call."""

    def __init__(self, model: str, batch_size: int, backend: str, precision: str):
        self.embedder = make_embedder(model, batch_size=batch_size, backend=backend, precision=precision)
        self.embedder.embed(["warm up"])  # load the model now, once per actor

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"position": batch["position"], "vector": vectors}


class RayEmbedder:
    """An `Embedder` whose large calls run on Ray. Everything else is the wrapped embedder's.

    `num_cpus` (a local Ray only), `actors` (pool size, default one per CPU), `temp_dir` and
    `object_store_memory` (bytes) tune the Ray runtime; `texts_per_call` tells index writers
    how many texts to hand over per call, so each job amortizes the actors' model loading.
    """

    def __init__(
        self,
        embedder: Embedder,
        settings: Settings,
        *,
        num_cpus: int | None = None,
        actors: int | None = None,
        temp_dir: str | None = None,
        object_store_memory: int | None = None,
        texts_per_call: int = 50_000,
    ):
        self.embedder = embedder
        self.settings = settings
        self.model_id = embedder.model_id
        self.num_cpus = num_cpus or 2
        self.actors = actors
        self.temp_dir = temp_dir
        self.object_store_memory = object_store_memory
        self.texts_per_call: int | None = texts_per_call
        self._started_ray = False

    def __getattr__(self, name: str):
        # count_word_pieces, max_seq_length, ...: whatever the wrapped embedder offers.
        if name == "embedder":
            raise AttributeError(name)
        return getattr(self.embedder, name)

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        if query or len(texts) <= self.settings.embedding_batch_size:
            return self.embedder.embed(texts, query=query)
        return self._embed_on_ray(list(texts))

    def start(self) -> None:
        """Connect to (or start) Ray; a no-op when it is already running in this process."""
        ray = _ray()
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False, "logging_level": logging.WARNING}
        if self.temp_dir:
            options["_temp_dir"] = str(self.temp_dir)
        if not os.environ.get("RAY_ADDRESS"):  # Ray's own variable: a cluster sizes itself
            options["num_cpus"] = self.num_cpus
            if self.object_store_memory:
                options["object_store_memory"] = int(self.object_store_memory)
        ray.init(**options)
        self._started_ray = True

    def close(self) -> None:
        """Shut Ray down if this embedder started it."""
        if self._started_ray:
            _ray().shutdown()
            self._started_ray = False

    def pool_size(self) -> int:
        ray = _ray()
        return self.actors or max(1, int(ray.cluster_resources().get("CPU", self.num_cpus)))

    def _embed_on_ray(self, texts: list[str]) -> np.ndarray:
        ray = _ray()
        self.start()
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # no per-job banners and progress bars
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        batch = self.settings.embedding_batch_size
        size = self.pool_size()
        blocks = min(-(-len(texts) // batch), size * 4)  # several blocks per actor
        items = [{"position": i, "text": t} for i, t in enumerate(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _EmbedBatch,
            fn_constructor_kwargs={"model": self.model_id, "batch_size": batch, "backend": self.settings.embedding_backend,
                                   "precision": self.settings.embedding_precision},
            batch_size=batch,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=min(size, blocks)),
            num_cpus=1,
        )
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for part in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            out[part["position"]] = part["vector"]
        return out
