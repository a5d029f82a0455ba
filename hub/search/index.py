"""The vector index: one Qdrant collection of tools, agents and skills, queried with the caller's filter.

Two backends speak the same small interface. The embedded default is Qdrant Edge (the Qdrant engine
in-process, persisted under the data dir, with real payload indexes: search/edge.py); a Qdrant server is reached with
`qdrant-client` when `HUB_QDRANT_URL` is set (`:memory:` runs qdrant-client's local mode, for tests and
tiny catalogs: its filters are evaluated point by point in Python, far too slow past a few thousand
entries). Either way the caller's visibility is a filter of the query itself: an entry the caller may
not see is never a candidate, and ranking is over the allowed set.

Payload of every point: kind, key (tool name, agent id), source (upstream or agent), state, grants (the
scopes that make it visible), visible (the kind if approved, else "-": what the filter matches), name, title,
description, index_key (model + text: what was embedded) and sig (a digest of the payload, to notice
payload-only changes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

log = logging.getLogger("hub.search")

DENSE = "dense"
LEXICAL = "lexical"
KEYWORD_FIELDS = ("visible", "kind", "key", "source", "state", "grants")
SCAN_FIELDS = ["index_key", "sig"]
HIT_FIELDS = ["kind", "key"]  # what a caller of Search.find reads of a hit's payload


@dataclass(frozen=True)
class IndexPoint:
    id: str
    dense: list[float]
    sparse: tuple[list[int], list[float]]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Scope:
    """What one query may consider: searchable entries of these kinds that these grants reveal."""

    kinds: tuple[str, ...]
    grants: frozenset[str] | None  # None: every entry (admins)
    hidden_sources: frozenset[str] = frozenset()  # kill-switched upstreams / agents


# Each fusion's weights at their best measured on MetaTool (tuned on half the queries, checked on the rest). The
# two scales differ: linear weighs scores (0.044 x the unit-length query's BM25, lexical.query_vector, is what
# 0.15 x the mean over terms was at 8 terms), rrf weighs ranks.
DEFAULT_WEIGHTS = {"linear": (1.0, 0.044), "rrf": (1.0, 0.4)}


@dataclass(frozen=True)
class Ranking:
    """How the dense and lexical candidate lists become one ranking (inside Qdrant's query API)."""

    # linear: weights[0] x cosine + weights[1] x BM25 (a Qdrant score formula). Measured on MetaTool, it beats
    # weighted RRF by about a point of nDCG@10 and DBSF by two; naive RRF loses to dense alone.
    method: Literal["linear", "rrf", "dbsf", "dense", "lexical"] = "linear"
    weights: tuple[float, float] | None = None  # dense, lexical (linear and rrf); None: the method's own default
    k: int = 2  # rrf
    prefetch: int = 100  # candidates from each side
    # Pseudo-relevance feedback (linear only): the best `feedback_pool` fused candidates are re-ranked by
    # score + feedback x cosine(d, centroid of the best `feedback_depth`). Queries are long and noisy, tool
    # descriptions short; what the best matches share says more about the intent than the query's wording.
    # Measured on MetaTool (tuned on half the queries, checked on the other half): +0.8 nDCG@10 single,
    # +0.6 multi at 0.3; within noise when the caller sees a tenth of the catalog. 0 turns it off.
    feedback: float = 0.3
    feedback_depth: int = 20
    feedback_pool: int = 50

    @property
    def fusion_weights(self) -> tuple[float, float]:
        return self.weights or DEFAULT_WEIGHTS.get(self.method, (1.0, 1.0))

    @property
    def uses_feedback(self) -> bool:
        return self.method == "linear" and self.feedback > 0


class Hit(NamedTuple):  # a tuple: a query makes a hundred or more of these, holding the GIL
    id: str
    score: float
    payload: Mapping[str, Any] = MappingProxyType({})  # HIT_FIELDS, filled in by Search.find


class Index(Protocol):
    def upsert(self, points: list[IndexPoint]) -> None: ...
    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None: ...
    def delete(self, ids: list[str]) -> None: ...
    def scan(self) -> dict[str, dict[str, Any]]: ...
    def vectors(self, ids: list[str]) -> dict[str, list[float]]: ...
    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]: ...  # HIT_FIELDS of each point
    # Ids and scores only: reading payloads was half an embedded query's time, and the caller knows its entries.
    def query(self, dense: list[float], sparse: tuple[list[int], list[float]], scope: Scope, ranking: Ranking,
              limit: int) -> list[Hit]: ...
    def count(self) -> int: ...
    def close(self) -> None: ...


@runtime_checkable
class Optimizable(Protocol):
    """An index that must be told to build its search structures (the embedded one: search/edge.py)."""

    unoptimized: int  # points written since it was last optimised

    async def optimize(self, timeout_s: float) -> bool: ...


# ---------------------------------------------------------------------------------------------- qdrant-client


class ClientIndex:
    """A collection on a Qdrant server (or qdrant-client's local mode), through qdrant-client."""

    def __init__(self, location: str, dimension: int, *, collection: str = "hub_catalog",
                 api_key: str | None = None, timeout_s: float = 10.0) -> None:
        from qdrant_client import QdrantClient
        from qdrant_client import models as qm

        self.qm = qm
        self.collection = collection
        if location == ":memory:":
            self.client = QdrantClient(location=":memory:")
        else:
            self.client = QdrantClient(url=location, api_key=api_key, timeout=int(timeout_s))
        if self.client.collection_exists(collection):
            info = self.client.get_collection(collection)
            vectors = info.config.params.vectors
            size = vectors[DENSE].size if isinstance(vectors, dict) and DENSE in vectors else None
            if size != dimension:
                log.warning("collection %s holds vectors of size %s, not %s; rebuilding it", collection, size,
                            dimension)
                self.client.delete_collection(collection)
        if not self.client.collection_exists(collection):
            self.client.create_collection(
                collection,
                vectors_config={DENSE: qm.VectorParams(size=dimension, distance=qm.Distance.COSINE)},
                sparse_vectors_config={LEXICAL: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
            )
        if location != ":memory:":  # local mode has no payload indexes; a server's are kept (idempotent)
            for name in KEYWORD_FIELDS:
                self.client.create_payload_index(collection, name, qm.PayloadSchemaType.KEYWORD)

    def _filter(self, scope: Scope) -> Any:
        qm = self.qm
        must: list[Any] = [qm.FieldCondition(key="visible", match=qm.MatchAny(any=list(scope.kinds)))]
        if scope.grants is not None:
            must.append(qm.FieldCondition(key="grants", match=qm.MatchAny(any=sorted(scope.grants))))
        must_not: list[Any] | None = (
            [qm.FieldCondition(key="source", match=qm.MatchAny(any=sorted(scope.hidden_sources)))]
            if scope.hidden_sources else None)
        return qm.Filter(must=must, must_not=must_not)

    def upsert(self, points: list[IndexPoint]) -> None:
        qm = self.qm
        self.client.upsert(self.collection, [
            qm.PointStruct(id=p.id, payload=p.payload, vector={
                DENSE: p.dense, LEXICAL: qm.SparseVector(indices=p.sparse[0], values=p.sparse[1])})
            for p in points], wait=True)

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        self.client.set_payload(self.collection, payload=payload, points=[point_id], wait=True)

    def delete(self, ids: list[str]) -> None:
        self.client.delete(self.collection, points_selector=self.qm.PointIdsList(points=list(ids)), wait=True)

    def scan(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        offset = None
        while True:
            records, offset = self.client.scroll(self.collection, limit=1000, offset=offset,
                                                 with_payload=SCAN_FIELDS, with_vectors=False)
            out.update((str(r.id), dict(r.payload or {})) for r in records)
            if offset is None:
                return out

    def vectors(self, ids: list[str]) -> dict[str, list[float]]:
        records = self.client.retrieve(self.collection, list(ids), with_payload=False, with_vectors=[DENSE])
        return {str(r.id): v for r in records if (v := dense_of(r.vector)) is not None}

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        records = self.client.retrieve(self.collection, list(ids), with_payload=HIT_FIELDS, with_vectors=False)
        return {str(r.id): dict(r.payload or {}) for r in records}

    def query(self, dense: list[float], sparse: tuple[list[int], list[float]], scope: Scope, ranking: Ranking,
              limit: int) -> list[Hit]:
        qm = self.qm
        flt = self._filter(scope)
        lexical = qm.SparseVector(indices=sparse[0], values=sparse[1])
        if ranking.method == "dense" or (ranking.method != "lexical" and not sparse[0]):
            kwargs: dict[str, Any] = {"query": dense, "using": DENSE}
        elif ranking.method == "lexical":
            kwargs = {"query": lexical, "using": LEXICAL}
        else:
            fusion: Any
            if ranking.method == "linear":
                w_dense, w_lexical = ranking.fusion_weights
                fusion = qm.FormulaQuery(formula=qm.SumExpression(sum=[
                    qm.MultExpression(mult=[w_dense, "$score[0]"]), qm.MultExpression(mult=[w_lexical, "$score[1]"])]),
                    defaults={"$score[0]": 0.0, "$score[1]": 0.0})
            elif ranking.method == "rrf":
                fusion = qm.RrfQuery(rrf=qm.Rrf(k=ranking.k, weights=list(ranking.fusion_weights)))
            else:
                fusion = qm.FusionQuery(fusion=qm.Fusion.DBSF)
            kwargs = {"query": fusion, "prefetch": [
                qm.Prefetch(query=dense, using=DENSE, filter=flt, limit=ranking.prefetch),
                qm.Prefetch(query=lexical, using=LEXICAL, filter=flt, limit=ranking.prefetch)]}
        response = self.client.query_points(self.collection, query_filter=flt, limit=limit, with_payload=False,
                                            **kwargs)
        return [Hit(str(p.id), float(p.score)) for p in response.points]

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def close(self) -> None:
        self.client.close()


def dense_of(vector: Any) -> list[float] | None:
    """The dense vector out of a point's vectors (named vectors come back as a dict)."""
    if isinstance(vector, dict):
        vector = vector.get(DENSE)
    return list(vector) if isinstance(vector, list | tuple) else None


def open_index(qdrant_url: str | None, data_dir: Path, dimension: int, *, collection: str = "hub_catalog",
               api_key: str | None = None) -> Index:
    if qdrant_url:
        return ClientIndex(qdrant_url, dimension, collection=collection, api_key=api_key)
    from hub.search.edge import EdgeIndex

    return EdgeIndex(data_dir, dimension)


async def run(fn: Any, *args: Any) -> Any:
    """Index calls leave the event loop (a server round trip, or an update that writes to disk)."""
    return await asyncio.to_thread(fn, *args)
