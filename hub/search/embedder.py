"""Sentence embeddings, offline: the bundled all-MiniLM-L6-v2 (or a configured model) on the CPU.

The encoder (backends.py: ONNX Runtime or torch) never touches the network. Queries run on one worker
thread, where concurrent queries are coalesced into one batch (one forward pass serves many callers);
documents run on their own threads (one per core on ONNX), so a query never queues behind indexing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hub.search.backends import Encoder

log = logging.getLogger("hub.search")

QUERY_BATCH = 64
DOCUMENT_BATCH = 16  # measured: 16 beats 32 and 64 on 2 cores (less padding, warmer caches)


class Embedder:
    """Normalised embeddings for documents (indexing) and queries (search), on one worker thread."""

    def __init__(self, encoder: Encoder, *, model: str, queries: Encoder | None = None,
                 query_cache: int = 1024, document_workers: int = 1) -> None:
        self.encoder = encoder  # documents
        self.query_encoder = queries or encoder
        self.dimension = encoder.dimension
        # Part of every entry's index key: another model, sequence length or vector-changing variant (int8)
        # means re-embedding; the same vectors from another backend do not.
        identity = f"{model}|{encoder.variant}" if encoder.variant else model
        self.model_id = hashlib.sha256(f"{identity}|{encoder.max_seq_length}".encode()).hexdigest()[:16]
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="hub-embed")  # queries
        # Documents on their own threads, so a query never queues behind indexing work; but one encoder
        # serving both (torch: its tokenizer is not safe across threads) keeps them on the same one.
        self._documents = (self._executor if self.query_encoder is encoder else
                           ThreadPoolExecutor(document_workers, thread_name_prefix="hub-embed-docs"))
        self._queries: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._draining = False
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache
        self.documents_embedded = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.query_encoder.encode(texts)

    async def documents(self, texts: list[str]) -> np.ndarray:
        """Embed documents in small batches, `document_workers` of them at a time.

        Batches are cut from the texts sorted by length, so each pads to texts of about its own length."""
        loop = asyncio.get_running_loop()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)

        async def embed(batch: list[int]) -> None:
            vectors[batch] = await loop.run_in_executor(self._documents, self._encode, [texts[i] for i in batch])
            self.documents_embedded += len(batch)

        await asyncio.gather(*(embed(order[start:start + DOCUMENT_BATCH])
                               for start in range(0, len(texts), DOCUMENT_BATCH)))
        return vectors

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
                    vectors = await loop.run_in_executor(self._executor, self._encode_queries, texts)
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
        self._documents.shutdown(wait=False, cancel_futures=True)
