"""Semantic capability search: keeps the index in step with the catalog and answers ranked queries.

Start-up never waits for search: the model loads and the index catches up in the background, with
progress in `status()` (shown by /readyz and the CLI). Until the model is loaded, queries get a clear
SearchUnavailable, never an empty list. Indexing is incremental: an entry is re-embedded only when the
text it was embedded from (or the model) changed, so a restart or a re-sync embeds nothing new; a change
of state or grants rewrites the payload alone, first, so a quarantined or disabled entry stops matching
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hub.search import lexical
from hub.search.backends import load_encoders
from hub.search.documents import Entry
from hub.search.embedder import Embedder
from hub.search.index import Hit, Index, IndexPoint, Optimizable, Ranking, Scope, open_index, run

log = logging.getLogger("hub.search")

EMBED_BATCH = 64  # entries embedded and written per step
PIPELINE_DEPTH = 2  # batches being embedded at once (indexing)
OPTIMIZE_AFTER = 2000  # unoptimised points in the embedded index that make it worth optimising (edge.py)
OPTIMIZE_TIMEOUT_S = 3600.0
# An entry's vector: 0.6 x its document's embedding + 0.4 x its name's. Measured on MetaTool with the weight chosen
# on half the queries: better than 0.7/0.3 with the name inside the document text, on both sets and on terse
# variants of them (descriptions cut to a sentence, queries to six words).
LABEL_WEIGHT = 0.4
MAX_QUERY_CHARS = 1000
PRELOAD_CHUNK = 256  # vectors read from the index per step at start (each step holds the GIL briefly)

Source = Callable[[], Iterable[Entry]]


def dense_vectors(documents: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """One vector per entry from its two embeddings, normalised (cosine)."""
    mixed = (1 - LABEL_WEIGHT) * documents + LABEL_WEIGHT * labels
    return mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-12)


def with_feedback(hits: list[Hit], vectors: np.ndarray, ranking: Ranking) -> list[Hit]:
    """Fused hits (best first) re-ranked by score + feedback x cosine(hit, centroid of the best hits' vectors)."""
    if len(hits) < 2:
        return hits
    vectors = vectors.astype(np.float32)
    centroid = vectors[:ranking.feedback_depth].mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    if not np.isfinite(norm) or norm < 1e-6:
        return hits
    similarity = vectors @ (centroid / norm) / np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
    scores = [h.score + ranking.feedback * float(s) for h, s in zip(hits, similarity, strict=True)]
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [Hit(hits[i].id, scores[i], hits[i].payload) for i in order]


class SearchUnavailable(Exception):
    """Search cannot answer now (model loading, or it failed to start); the message is safe to show."""


@dataclass(frozen=True)
class SearchSettings:
    model: str = "all-MiniLM-L6-v2"
    max_seq_length: int = 128
    threads: int | None = None
    quantize: bool | None = None  # None: the backend's default (backends.load_encoders)
    backend: str = "onnx"
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    collection: str = "hub_catalog"
    ranking: Ranking = field(default_factory=Ranking)


class Search:
    def __init__(self, settings: SearchSettings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.sources: list[Source] = []
        self.embedder: Embedder | None = None
        self.index: Index | None = None
        self.state = "starting"  # starting -> loading -> indexing <-> ready | failed
        self.error: str | None = None
        self.total = 0
        self.done = 0
        self.embedded = 0  # entries embedded since start (a restart over an unchanged catalog embeds none)
        self._known: dict[str, dict[str, Any]] = {}  # point id -> {index_key, sig} as the index holds them
        self._payloads: dict[str, tuple[Entry, str, dict[str, Any]]] = {}
        # Every entry's dense vector (float16: re-ranking needs no more), for pseudo-relevance feedback.
        self._vectors: dict[str, np.ndarray] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._optimizing: asyncio.Task[None] | None = None
        self._preload: asyncio.Task[None] | None = None
        self.optimized = 0  # optimised copies adopted since start
        self.last_indexed_at: float | None = None

    # ------------------------------------------------------------------------------ lifecycle

    def add_source(self, source: Source) -> None:
        self.sources.append(source)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def changed(self) -> None:
        """Something searchable may have changed: reconcile soon (coalesced)."""
        self._wake.set()

    async def close(self) -> None:
        for task in (self._task, self._optimizing, self._preload):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.embedder is not None:
            self.embedder.close()
        if self.index is not None:
            await run(self.index.close)
            self.index = None

    async def _run(self) -> None:
        s = self.settings
        try:
            self.state = "loading"
            started = time.perf_counter()
            encoders = await asyncio.to_thread(load_encoders, s.model, max_seq_length=s.max_seq_length,
                                               threads=s.threads, backend=s.backend, quantize=s.quantize,
                                               cache_dir=self.data_dir / "models")
            self.embedder = Embedder(encoders.documents, queries=encoders.queries, model=s.model,
                                     document_workers=encoders.document_workers)
            self.index = await asyncio.to_thread(open_index, s.qdrant_url, self.data_dir, self.embedder.dimension,
                                                 collection=s.collection, api_key=s.qdrant_api_key)
            self._known = await run(self.index.scan)
            log.info("search model %s loaded in %.1f s; %d entries already indexed", s.model,
                     time.perf_counter() - started, len(self._known))
            self._preload = asyncio.create_task(self._load_vectors(list(self._known)))
        except Exception as exc:
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
            log.error("search could not start: %s", self.error)
            return
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._reconcile()
                self.error = None
            except Exception as exc:  # keep serving what is indexed; retry on the next change or in 5 s
                self.error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("search indexing failed: %s", self.error)
                await asyncio.sleep(5)
                self._wake.set()

    async def _load_vectors(self, ids: list[str]) -> None:
        """Read the vectors of what was indexed before this start into memory, a chunk at a time, as indexing
        would have left them. Until then each query reads its candidates' vectors from the index: a hub restarted
        on the 100k benchmark catalog served 16 callers 115 queries/s at first, 128-173 once its cache was warm."""
        try:
            for start in range(0, len(ids), PRELOAD_CHUNK):
                assert self.index is not None
                found = await run(self.index.vectors, ids[start:start + PRELOAD_CHUNK])
                for pid, vector in found.items():
                    if pid in self._known and pid not in self._vectors:  # not deleted or re-embedded meanwhile
                        self._vectors[pid] = np.asarray(vector, dtype=np.float16)
        except Exception as exc:  # queries read what they need from the index instead
            log.warning("search vectors could not be preloaded: %s: %s", type(exc).__name__, exc)

    # ------------------------------------------------------------------------------ indexing

    def _desired(self) -> dict[str, Entry]:
        entries: dict[str, Entry] = {}
        for source in self.sources:
            for entry in source():
                entries[entry.point_id] = entry
        return entries

    def _payload(self, entry: Entry, model_id: str, version: str) -> dict[str, Any]:
        """The entry's payload, computed once per distinct entry (the catalog re-reads often, changes rarely)."""
        cached = self._payloads.get(entry.point_id)
        if cached is None or cached[0] != entry or cached[1] != model_id:
            cached = (entry, model_id, entry.payload(model_id, version))
            self._payloads[entry.point_id] = cached
        return cached[2]

    async def _reconcile(self) -> None:
        assert self.embedder is not None and self.index is not None
        model_id, version = self.embedder.model_id, lexical.VERSION
        desired = self._desired()
        payloads = {pid: self._payload(entry, model_id, version) for pid, entry in desired.items()}
        self._payloads = {pid: self._payloads[pid] for pid in desired}
        stale = [pid for pid in self._known if pid not in desired]
        embed = [pid for pid, p in payloads.items() if self._known.get(pid, {}).get("index_key") != p["index_key"]]
        embedding = set(embed)
        relabel = [pid for pid, p in payloads.items()
                   if pid in self._known and pid not in embedding and self._known[pid].get("sig") != p["sig"]]
        self.total = len(desired)
        self.done = self.total - len(embed) - len(relabel)
        if embed or relabel or stale:
            self.state = "indexing"
        # Payload-only changes first: a quarantine or a revoked grant must stop matching before new entries.
        for pid in relabel:
            await run(self.index.set_payload, pid, payloads[pid])
            self._known[pid] = {"index_key": payloads[pid]["index_key"], "sig": payloads[pid]["sig"]}
            self.done += 1
        if stale:
            await run(self.index.delete, stale)
            for pid in stale:
                self._known.pop(pid, None)
                self._vectors.pop(pid, None)
        # A pipeline: two batches are being embedded while one is written, so the encoder threads never wait for
        # the index, nor for each other at the end of a batch.
        batches = iter([embed[start:start + EMBED_BATCH] for start in range(0, len(embed), EMBED_BATCH)])
        ahead: deque[asyncio.Task[tuple[list[IndexPoint], np.ndarray]]] = deque()

        def refill() -> None:
            while len(ahead) < PIPELINE_DEPTH and (batch := next(batches, None)) is not None:
                ahead.append(asyncio.create_task(self._points(batch, desired, payloads)))

        try:
            refill()
            while ahead:
                points, vectors = await ahead.popleft()
                refill()
                await run(self.index.upsert, points)
                for point, vector in zip(points, vectors, strict=True):
                    self._vectors[point.id] = vector
                    self._known[point.id] = {"index_key": point.payload["index_key"], "sig": point.payload["sig"]}
                self.done += len(points)
                self.embedded += len(points)
        finally:
            for task in ahead:
                task.cancel()
            for task in ahead:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.state = "ready"
        self.last_indexed_at = time.time()
        self._optimize_if_due()

    async def _points(self, batch: list[str], desired: dict[str, Entry],
                      payloads: dict[str, dict[str, Any]]) -> tuple[list[IndexPoint], np.ndarray]:
        """A batch of entries embedded: their index points, and their vectors as float16 (kept for feedback)."""
        assert self.embedder is not None
        entries = [desired[pid].texts for pid in batch]
        encoded = await self.embedder.documents([t.document for t in entries] + [t.label for t in entries])
        vectors = dense_vectors(encoded[:len(batch)], encoded[len(batch):])
        points = [IndexPoint(pid, vector.tolist(), lexical.document_vector(text.lexical), payloads[pid])
                  for pid, vector, text in zip(batch, vectors, entries, strict=True)]
        return points, vectors.astype(np.float16)

    def _optimize_if_due(self) -> None:
        index = self.index
        if isinstance(index, Optimizable) and index.unoptimized >= OPTIMIZE_AFTER and self._optimizing is None:
            self._optimizing = asyncio.create_task(self._optimize(index))

    async def _optimize(self, index: Optimizable) -> None:
        adopted = False
        try:
            started = time.perf_counter()
            adopted = await index.optimize(OPTIMIZE_TIMEOUT_S)
            if adopted:
                self.optimized += 1
                log.info("search index optimised in %.1f s", time.perf_counter() - started)
        finally:
            self._optimizing = None
        if adopted:
            # What was written while the copy was optimised may be worth another pass now, not at the next catalog
            # change (which may never come: a bulk import ends, then every query would scan those points).
            self._optimize_if_due()

    # ------------------------------------------------------------------------------ queries

    @property
    def ready(self) -> bool:
        return self.embedder is not None and self.index is not None

    async def find(self, text: str, scope: Scope, limit: int) -> list[Hit]:
        """The best `limit` entries within `scope` for `text`, best first."""
        if self.embedder is None or self.index is None:
            why = self.error if self.state == "failed" else "the search model is still loading; retry shortly"
            raise SearchUnavailable(f"Search is unavailable: {why}")
        if scope.grants is not None and not scope.grants:
            return []
        sparse = lexical.query_vector(text[:MAX_QUERY_CHARS])
        ranking = self.settings.ranking
        try:
            dense = await self.embedder.query(text[:MAX_QUERY_CHARS])
            pool = max(limit, ranking.feedback_pool) if ranking.uses_feedback else limit
            hits = await run(self.index.query, dense.tolist(), sparse, scope, ranking, pool)
            if ranking.uses_feedback:
                vectors = await self._vectors_of([h.id for h in hits])
                hits = with_feedback(hits, vectors, ranking) if vectors is not None else hits
            return await self._with_payloads(hits[:limit])
        except Exception as exc:  # a Qdrant server down or refusing: a clear 503, never a stack trace
            log.warning("search query failed: %s: %s", type(exc).__name__, exc)
            raise SearchUnavailable("Search is unavailable: the search index did not answer; retry shortly") from None

    async def _with_payloads(self, hits: list[Hit]) -> list[Hit]:
        """The hits with their kind and key: from the entries this hub indexes (a point id is derived from them,
        so they never change), or from the index for a point this hub does not know (another replica's, or one
        indexed before a restart and not reconciled yet). A point gone meanwhile is left out."""
        known = {h.id: {"kind": e.kind, "key": e.key} for h in hits if (e := self._entry(h.id)) is not None}
        missing = [h.id for h in hits if h.id not in known]
        if missing:
            assert self.index is not None
            known.update(await run(self.index.payloads, missing))
        return [Hit(h.id, h.score, known[h.id]) for h in hits if h.id in known]

    def _entry(self, point_id: str) -> Entry | None:
        cached = self._payloads.get(point_id)
        return cached[0] if cached is not None else None

    async def _vectors_of(self, ids: list[str]) -> np.ndarray | None:
        """The entries' dense vectors, from memory; those indexed before a restart (or by another replica)
        are read from the index once. None if one has gone meanwhile."""
        assert self.index is not None
        missing = [pid for pid in ids if pid not in self._vectors]
        if missing:
            for pid, vector in (await run(self.index.vectors, missing)).items():
                self._vectors[pid] = np.asarray(vector, dtype=np.float16)
        try:
            return np.stack([self._vectors[pid] for pid in ids]) if ids else None
        except KeyError:
            return None

    def status(self) -> dict[str, Any]:
        """Progress for /readyz and the CLI."""
        status: dict[str, Any] = {"state": self.state, "indexed": self.done, "total": self.total,
                                  "embedded": self.embedded}
        if self._optimizing is not None:
            status["optimizing"] = True  # a child process is building the index's graph; queries still run
        if self.optimized:
            status["optimized"] = self.optimized
        if self.error:
            status["error"] = self.error
        return status
