"""The embedded index: a Qdrant Edge shard under the data dir, optimised out of process.

Qdrant Edge builds its HNSW graph and sparse indexes only when asked (`optimize()`), and that call holds the
GIL for as long as it runs (25 s for 100k entries on two cores): in-process it would stop the hub. So once
enough has been written, the shard is copied, a child process (`python -m hub.search.edge DIR DIM`)
optimises the copy, and the hub adopts it: what was written meanwhile is replayed onto it, the shard in
use is swapped under the writers' lock and closed once its last query is done. Unoptimised, a query scans
every vector (17 ms at 100k); optimised, it walks the graph (1.6 ms).

Which directory is current is recorded in `search.current` beside it (written atomically), so a crash at
any step leaves either the old shard or the new one in use, never half of one; leftovers are removed at
the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hub.search.index import (
    DENSE,
    HIT_FIELDS,
    KEYWORD_FIELDS,
    LEXICAL,
    SCAN_FIELDS,
    Hit,
    IndexPoint,
    Ranking,
    Scope,
    dense_of,
    run,
)

log = logging.getLogger("hub.search")

POINTER = "search.current"
MAX_JOURNAL = 20_000  # points written while a copy is optimised that are kept to replay; past this, give it up


def edge_config(qe: Any, dimension: int) -> Any:
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
        sparse_vectors={LEXICAL: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        # One thread per query, not one per segment: a query holds the GIL throughout, so the hub runs them one
        # at a time anyway, and handing segments to other threads cost more than it saved. Measured on the
        # benchmark's 100k shard (bench/search_speed.py --keep), two cores, paired runs: 1.7-1.9 ms against 2.4-2.6
        # per unfiltered query, 2.5-2.8 against 3.4-3.5 for a caller who may see a tenth.
        max_search_threads=1,
    )


class EdgeIndex:
    """The embedded engine: a Qdrant Edge shard under `data_dir`."""

    def __init__(self, data_dir: Path, dimension: int) -> None:
        import qdrant_edge as qe

        self.qe = qe
        self.data_dir = data_dir
        self.dimension = dimension
        self.config = edge_config(qe, dimension)
        self._lock = threading.Lock()  # writers one at a time (and the swap); queries run concurrently
        self._readers = threading.Condition()
        self._reading: dict[int, int] = {}  # id(shard) -> queries running on it
        self._journal: list[Any] | None = None  # writes since a copy was taken, while it is optimised
        self._journaled = 0
        self._copied_unoptimized = 0
        self.path, optimized = self._current()
        self._sweep()
        self.shard = self._open(self.path)
        # Points written since the shard was last optimised (what a query scans instead of walking a graph).
        self.unoptimized = max(0, self.count() - optimized) if optimized else self.count()

    # -- directories ---------------------------------------------------------------------------------------

    def _current(self) -> tuple[Path, int]:
        """The shard in use, and how many points it held when it was optimised (0: never)."""
        pointer = self.data_dir / POINTER
        with contextlib.suppress(OSError, ValueError):
            name, points = pointer.read_text().split()
            if name.startswith("search") and "/" not in name and (self.data_dir / name).is_dir():
                return self.data_dir / name, int(points)
        return self.data_dir / "search", 0

    def _sweep(self) -> None:
        """Remove shard directories that are not current: copies a crash or a failed optimisation left."""
        for leftover in self.data_dir.glob("search-*"):
            if leftover.is_dir() and leftover != self.path:
                shutil.rmtree(leftover, ignore_errors=True)
        if self.path.name != "search" and (self.data_dir / "search").is_dir():
            shutil.rmtree(self.data_dir / "search", ignore_errors=True)

    def _open(self, path: Path) -> Any:
        qe = self.qe
        shard = None
        if path.exists():
            try:
                shard = qe.EdgeShard.load(str(path), self.config)
            except Exception as exc:  # another model's dimension, or an unreadable shard: rebuild it
                log.warning("search index at %s cannot be used (%s); rebuilding it", path, exc)
                shutil.rmtree(path)
        if shard is None:
            path.mkdir(parents=True, exist_ok=True)
            shard = qe.EdgeShard.create(str(path), self.config)
        for name in KEYWORD_FIELDS:  # an index made by an older hub may lack one
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
        return shard

    # -- writes ----------------------------------------------------------------------------------------------

    def _write(self, operation: Any, points: int = 0) -> None:
        with self._lock:
            self.shard.update(operation)
            self.unoptimized += points
            if self._journal is not None:
                self._journal.append(operation)
                self._journaled += max(points, 1)
                if self._journaled > MAX_JOURNAL:
                    self._journal = None  # too much to replay: adopt() will give the copy up

    def upsert(self, points: list[IndexPoint]) -> None:
        qe = self.qe
        batch = [qe.Point(p.id, {DENSE: p.dense, LEXICAL: qe.SparseVector(*p.sparse)}, p.payload) for p in points]
        self._write(qe.UpdateOperation.upsert_points(batch), len(batch))

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        self._write(self.qe.UpdateOperation.set_payload([point_id], payload))

    def delete(self, ids: list[str]) -> None:
        self._write(self.qe.UpdateOperation.delete_points(list(ids)))

    # -- optimisation out of process ---------------------------------------------------------------------------

    def copy_for_optimizing(self) -> Path:
        """A copy of the shard to optimise in another process; writes from now on are journaled."""
        target = self.data_dir / f"search-{time.time_ns()}"
        with self._lock:
            self.shard.flush()
            shutil.copytree(self.path, target)
            self._journal, self._journaled = [], 0
            self._copied_unoptimized = self.unoptimized
        return target

    def abandon(self, copy: Path) -> None:
        with self._lock:
            self._journal = None
            if copy == self.path:  # adopted after all: it is the shard in use
                return
        shutil.rmtree(copy, ignore_errors=True)

    async def optimize(self, timeout_s: float) -> bool:
        """Optimise a copy in a child process and adopt it; False when that failed or was given up."""
        copy = await run(self.copy_for_optimizing)
        adopted = False
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hub.search.edge", str(copy), str(self.dimension),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            try:
                _, err = await asyncio.wait_for(child.communicate(), timeout_s)
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
            if child.returncode != 0:
                log.warning("optimising the search index failed (exit %s): %s", child.returncode,
                            err.decode(errors="replace")[-500:])
                return False
            adopted = await run(self.adopt, copy)
            return adopted
        except Exception as exc:
            log.warning("optimising the search index failed: %s: %s", type(exc).__name__, exc)
            return False
        finally:
            if not adopted:
                await asyncio.shield(run(self.abandon, copy))

    def adopt(self, copy: Path) -> bool:
        """Use the optimised copy from now on (the journal replayed onto it); False if it had to be given up."""
        try:
            shard = self.qe.EdgeShard.load(str(copy), self.config)  # never _open: it would rebuild an empty one
        except Exception as exc:
            log.warning("the optimised search index could not be opened (%s); keeping the current one", exc)
            self.abandon(copy)
            return False
        with self._lock:
            journal, self._journal = self._journal, None
            if journal is None:  # too much was written meanwhile
                shard.close()
                shutil.rmtree(copy, ignore_errors=True)
                return False
            try:
                for operation in journal:
                    shard.update(operation)
                shard.flush()
            except Exception as exc:
                log.warning("replaying writes onto the optimised search index failed (%s); keeping the current one",
                            exc)
                shard.close()
                shutil.rmtree(copy, ignore_errors=True)
                return False
            points = int(shard.count(self.qe.CountRequest(exact=True)))
            pointer = self.data_dir / f"{POINTER}.tmp"
            pointer.write_text(f"{copy.name} {points - (self.unoptimized - self._copied_unoptimized)}")
            os.replace(pointer, self.data_dir / POINTER)  # from here on a restart opens the copy
            self.unoptimized -= self._copied_unoptimized  # what was written meanwhile is not optimised yet
            old, old_path = self.shard, self.path
            self.shard, self.path = shard, copy
        with self._readers:  # the old shard goes once the queries already on it are done
            self._readers.wait_for(lambda: not self._reading.get(id(old)), timeout=60)
        try:
            old.close()
        except Exception as exc:  # the copy is in use whatever happens to the old shard
            log.warning("closing the replaced search index failed: %s", exc)
        shutil.rmtree(old_path, ignore_errors=True)
        return True

    # -- reads -----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reader(self) -> Any:
        with self._readers:
            shard = self.shard
            self._reading[id(shard)] = self._reading.get(id(shard), 0) + 1
        try:
            yield shard
        finally:
            with self._readers:
                left = self._reading[id(shard)] - 1
                if left:
                    self._reading[id(shard)] = left
                else:
                    del self._reading[id(shard)]
                self._readers.notify_all()

    def _filter(self, scope: Scope) -> Any:
        qe = self.qe
        must = [qe.FieldCondition("visible", match=qe.MatchAny(list(scope.kinds)))]
        if scope.grants is not None:
            must.append(qe.FieldCondition("grants", match=qe.MatchAny(sorted(scope.grants))))
        must_not = ([qe.FieldCondition("source", match=qe.MatchAny(sorted(scope.hidden_sources)))]
                    if scope.hidden_sources else None)
        return qe.Filter(must=must, must_not=must_not)

    def scan(self) -> dict[str, dict[str, Any]]:
        qe = self.qe
        out: dict[str, dict[str, Any]] = {}
        offset = None
        with self._reader() as shard:
            while True:
                records, offset = shard.scroll(qe.ScrollRequest(
                    offset=offset, limit=1000, with_payload=qe.PayloadSelector.Include(SCAN_FIELDS)))
                out.update((str(r.id), dict(r.payload or {})) for r in records)
                if offset is None:
                    return out

    def vectors(self, ids: list[str]) -> dict[str, list[float]]:
        with self._reader() as shard:
            records = shard.retrieve(list(ids), with_payload=False, with_vector=[DENSE])
        return {str(r.id): v for r in records if (v := dense_of(r.vector)) is not None}

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._reader() as shard:
            records = shard.retrieve(list(ids), with_payload=self.qe.PayloadSelector.Include(HIT_FIELDS),
                                     with_vector=False)
        return {str(r.id): dict(r.payload or {}) for r in records}

    def query(self, dense: list[float], sparse: tuple[list[int], list[float]], scope: Scope, ranking: Ranking,
              limit: int) -> list[Hit]:
        qe = self.qe
        flt = self._filter(scope)
        dense_q = qe.Query.Nearest(dense, using=DENSE)
        lexical_q = qe.Query.Nearest(qe.SparseVector(*sparse), using=LEXICAL)
        if ranking.method == "dense" or (ranking.method != "lexical" and not sparse[0]):
            request = qe.QueryRequest(limit=limit, query=dense_q, filter=flt, with_payload=False)
        elif ranking.method == "lexical":
            request = qe.QueryRequest(limit=limit, query=lexical_q, filter=flt, with_payload=False)
        else:
            prefetch = [qe.Prefetch(ranking.prefetch, dense_q, filter=flt),
                        qe.Prefetch(ranking.prefetch, lexical_q, filter=flt)]
            if ranking.method == "linear":
                ex, (w_dense, w_lexical) = qe.Expression, ranking.fusion_weights
                fusion = qe.Formula(ex.Sum([ex.Mult([ex.Constant(w_dense), ex.Variable("$score[0]")]),
                                            ex.Mult([ex.Constant(w_lexical), ex.Variable("$score[1]")])]),
                                    defaults={"$score[0]": 0.0, "$score[1]": 0.0})
            elif ranking.method == "rrf":
                fusion = qe.Fusion.Rrf(k=ranking.k, weights=list(ranking.fusion_weights))
            else:
                fusion = qe.Fusion.Dbsf()
            request = qe.QueryRequest(limit=limit, prefetches=prefetch, query=fusion, filter=flt, with_payload=False)
        with self._reader() as shard:
            points = shard.query(request)
        return [Hit(str(p.id), float(p.score)) for p in points]

    def count(self) -> int:
        with self._reader() as shard:
            return int(shard.count(self.qe.CountRequest(exact=True)))

    def close(self) -> None:
        with self._lock:
            self.shard.flush()
            self.shard.close()


def optimize(path: Path, dimension: int) -> bool:
    """Optimise the shard at `path` (run in a child process: it holds the GIL throughout)."""
    import qdrant_edge as qe

    shard = qe.EdgeShard.load(str(path), edge_config(qe, dimension))
    try:
        changed = bool(shard.optimize())
        shard.flush()
    finally:
        shard.close()
    return changed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m hub.search.edge SHARD_DIR DIMENSION", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):
        os.nice(10)  # serving comes first
    optimize(Path(argv[0]), int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
