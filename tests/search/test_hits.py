"""A query's hits name their entries (kind and key) whether or not this hub holds the entry in memory: the index
answers ids and scores only, and the few returned ids are resolved afterwards."""

from __future__ import annotations

from pathlib import Path

from hub.search.index import Scope
from hub.search.search import Search, SearchSettings
from tests.search.test_optimise_again import entry, until

ADMIN = Scope(kinds=("tool",), grants=None)


async def test_hits_carry_kind_and_key_from_memory_or_from_the_index(tmp_path: Path) -> None:
    search = Search(SearchSettings(), tmp_path)
    search.add_source(lambda: [entry(i) for i in range(40)])
    await search.start()
    try:
        await until(lambda: search.state == "ready" and search.done == 40)
        hits = await search.find("maintenance task number 7", ADMIN, 5)
        assert hits[0].payload == {"kind": "tool", "key": "ops.task_7"}
        assert all(set(h.payload) == {"kind", "key"} for h in hits) and len(hits) == 5

        # Points this hub does not hold in memory (indexed by another replica, or before a restart and not yet
        # reconciled) are named by the index itself: the same answer.
        search._payloads.clear()
        again = await search.find("maintenance task number 7", ADMIN, 5)
        assert [(h.id, h.payload) for h in again] == [(h.id, h.payload) for h in hits]

        # A caller whose grants reveal none of these entries gets none of them.
        none = await search.find("maintenance task number 7", Scope(kinds=("tool",), grants=frozenset({"x"})), 5)
        assert none == []
    finally:
        await search.close()


async def test_a_restart_preloads_the_vectors_it_indexed_before_and_ranks_the_same(tmp_path: Path) -> None:
    catalog = [entry(i) for i in range(40)]
    first = Search(SearchSettings(), tmp_path)
    first.add_source(lambda: catalog)
    await first.start()
    try:
        await until(lambda: first.state == "ready" and first.done == 40)
        before = await first.find("maintenance task number 7", ADMIN, 10)
        vectors = dict(first._vectors)
    finally:
        await first.close()

    again = Search(SearchSettings(), tmp_path)
    again.add_source(lambda: catalog)
    await again.start()
    try:
        await until(lambda: again.state == "ready" and len(again._vectors) == 40)  # before any query asks
        assert again.embedded == 0  # read back, not re-embedded
        assert all((again._vectors[pid] == vectors[pid]).all() for pid in vectors)
        after = await again.find("maintenance task number 7", ADMIN, 10)
        assert [(h.id, h.payload) for h in after] == [(h.id, h.payload) for h in before]
    finally:
        await again.close()
