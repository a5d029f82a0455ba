"""What is written while the embedded index is being optimised gets optimised next, without waiting for another
catalog change (after a bulk import there may be none, and queries would scan those points for good)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.search import search as search_module
from hub.search.documents import Entry, texts
from hub.search.search import Search, SearchSettings


def entry(i: int) -> Entry:
    name = f"ops.task_{i}"
    description = f"Runs maintenance task number {i} on the fleet"
    return Entry(kind="tool", key=name, source="ops", state="approved", grants=("upstream:ops",), name=name,
                 title=None, description=description, texts=texts(name, None, description, None))


async def until(condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_points_written_during_an_optimisation_are_optimised_next(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "OPTIMIZE_AFTER", 20)
    catalog = [entry(i) for i in range(30)]
    search = Search(SearchSettings(), tmp_path)
    search.add_source(lambda: list(catalog))
    await search.start()
    try:
        await until(lambda: search.status().get("optimizing", False))
        catalog.extend(entry(i) for i in range(30, 55))  # 25 more while a child process optimises a copy
        search.changed()
        await until(lambda: search.embedded >= 55)
        assert search.status().get("optimizing"), "the second batch must land while the copy is optimised"
        await until(lambda: search.optimized >= 1 and not search.status().get("optimizing"))
        # No catalog change since: the second optimisation comes from the first one's finding 25 new points.
        await until(lambda: search.optimized >= 2 and not search.status().get("optimizing"))
        assert search.index is not None and getattr(search.index, "unoptimized", 0) < 20
        hits = await search.find("maintenance task number 42", search_module.Scope(kinds=("tool",), grants=None), 5)
        assert hits and hits[0].payload["key"] == "ops.task_42"
    finally:
        await search.close()
