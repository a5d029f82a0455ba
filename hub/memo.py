"""Values derived from objects the hub reuses call after call (a catalog record's schema), found by identity.

Hashing or re-encoding a schema per call would cost more than what is derived from it; the object itself
is the key. An entry holds its object, so the object's id cannot be reused while the entry exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    def __init__(self, derive: Callable[[K], V], size: int = 4096) -> None:
        self.derive = derive
        self.size = size
        self._items: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        hit = self._items.get(id(key))
        if hit is not None and hit[0] is key:
            return hit[1]
        value = self.derive(key)
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[id(key)] = (key, value)
        return value
