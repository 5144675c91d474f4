"""A bounded memo for values the response hook computes again on every poll
of the same assets (a key's parts, an asset's id, its playback token)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: How many values a memo keeps: a poll of a 100-asset list uses 100.
MEMO_SIZE = 4096


class Memo(Generic[K, V]):
    """``compute(key)``, remembered for at most :data:`MEMO_SIZE` keys, then
    forgotten all at once (no per-hit bookkeeping, unlike an LRU). Safe to
    share between threads: a value computed twice is the same value."""

    def __init__(self, compute: Callable[[K], V]) -> None:
        self._compute = compute
        self._values: dict[K, V] = {}

    def __call__(self, key: K) -> V:
        try:
            return self._values[key]
        except KeyError:
            pass
        value = self._compute(key)
        if len(self._values) >= MEMO_SIZE:
            self._values.clear()
        self._values[key] = value
        return value
