"""The embedded index optimised out of process: writes made meanwhile are kept, queries never fail, and a
crash at any step leaves one whole shard in use."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from hub.search import edge
from hub.search.edge import POINTER, EdgeIndex
from hub.search.index import IndexPoint, Ranking, Scope

DIM = 8
ADMIN = Scope(kinds=("tool",), grants=None)


def points(n: int, rng: np.random.Generator, **payload: str) -> list[IndexPoint]:
    return [IndexPoint(str(uuid.uuid4()), rng.normal(size=DIM).tolist(), ([i % 7], [1.0]),
                       {"visible": "tool", "grants": ["tool:*"], "source": "up", "key": f"k{i}", **payload})
            for i in range(n)]


def optimize_in_child(copy: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "hub.search.edge", str(copy), str(DIM)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def keys(index: EdgeIndex, vector: list[float], limit: int = 5000) -> set[str]:
    hits = index.query(vector, ([], []), ADMIN, Ranking(method="dense"), limit)
    payloads = index.payloads([h.id for h in hits])
    assert len(payloads) == len(hits)
    return {payloads[h.id]["key"] for h in hits}


def test_an_optimised_copy_is_adopted_with_what_was_written_meanwhile(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    index = EdgeIndex(tmp_path, DIM)
    first = points(3000, rng)
    index.upsert(first)
    assert index.unoptimized == 3000
    copy = index.copy_for_optimizing()
    # Written while the child works: a new point, a payload change (a quarantine), a deletion.
    late = points(1, rng, key="late")
    index.upsert(late)
    index.set_payload(first[0].id, {"visible": "-"})
    index.delete([first[1].id])
    optimize_in_child(copy)

    failures: list[BaseException] = []
    stop = threading.Event()

    def query_all_along() -> None:  # queries run on whichever shard is current, and none fails
        while not stop.is_set():
            try:
                assert len(keys(index, first[5].dense, 10)) == 10
            except BaseException as exc:  # reported below
                failures.append(exc)

    reader = threading.Thread(target=query_all_along)
    reader.start()
    try:
        assert index.adopt(copy)
    finally:
        stop.set()
        reader.join()
    assert not failures, failures[:1]
    assert index.path == copy and not (tmp_path / "search").exists()
    assert index.unoptimized == 1  # the late point; the rest is in the graph
    seen = keys(index, first[5].dense)
    assert "late" in seen and first[0].payload["key"] not in seen and first[1].payload["key"] not in seen
    assert len(seen) == 2999
    index.close()

    reopened = EdgeIndex(tmp_path, DIM)  # a restart opens the optimised copy, knowing what it holds
    assert reopened.path == copy and reopened.unoptimized == 1 and keys(reopened, first[5].dense) == seen
    reopened.close()


def test_leftovers_of_a_crash_are_swept_and_the_current_shard_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    index = EdgeIndex(tmp_path, DIM)
    index.upsert(points(50, rng))
    copy = index.copy_for_optimizing()  # the hub dies here: the copy is never adopted
    index.close()
    reopened = EdgeIndex(tmp_path, DIM)
    assert reopened.path == tmp_path / "search" and not copy.exists() and reopened.count() == 50
    reopened.close()
    (tmp_path / POINTER).write_text("search-999 50")  # a pointer to a copy that is gone
    again = EdgeIndex(tmp_path, DIM)
    assert again.path == tmp_path / "search" and again.count() == 50
    again.close()


def test_a_copy_is_given_up_when_too_much_was_written_meanwhile(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge, "MAX_JOURNAL", 10)
    rng = np.random.default_rng(2)
    index = EdgeIndex(tmp_path, DIM)
    index.upsert(points(100, rng))
    copy = index.copy_for_optimizing()
    index.upsert(points(20, rng))
    optimize_in_child(copy)
    assert not index.adopt(copy)
    assert not copy.exists() and index.path == tmp_path / "search" and index.count() == 120
    assert index.unoptimized == 120
    index.close()


def test_a_copy_that_cannot_be_opened_is_given_up_not_rebuilt(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    index = EdgeIndex(tmp_path, DIM)
    index.upsert(points(30, rng))
    copy = index.copy_for_optimizing()
    for item in copy.rglob("*"):  # the child left garbage behind
        if item.is_file():
            item.write_bytes(b"not a shard")
    assert not index.adopt(copy)
    index.abandon(copy)  # what the search loop does after a failed adoption
    assert not copy.exists() and index.path == tmp_path / "search" and index.count() == 30
    index.upsert(points(1, rng))  # the shard in use still takes writes
    assert index.count() == 31
    index.close()
