"""Claims: the key an upstream asset got when first seen, so repeated polls of
one job give one object and one job. Redis ``SET NX`` shared by every process,
or a dict without Redis (development, one process)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from redis import Redis

from ..assets import Asset
from ..queue import redis_errors
from .detect import Found

if TYPE_CHECKING:
    from ..state import IndoxMediaState

#: Redis keys of claims start with this.
CLAIM_PREFIX = "indox-media:asset:"
_AUDIO_EXTENSIONS = {"wav", "mp3", "ogg", "opus", "flac", "m4a", "webm", "mp4", "aac"}

#: ``(identity, value, ttl in seconds or None)``.
Claim = tuple[str, str, int | None]


class RedisClaims:
    """Claims in Redis, shared by every gateway process."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def claim(self, claims: Sequence[Claim]) -> list[tuple[str, bool]]:
        """For each claim: ``(value, True)`` if the identity is new, else
        ``(the value it got first, False)``. Two round trips at most, whatever
        the number of claims.

        :raises QueueError: Redis failed.
        """
        names = [CLAIM_PREFIX + identity for identity, _, _ in claims]
        with redis_errors():
            pipe = self._redis.pipeline(transaction=False)
            for name, (_, value, ttl) in zip(names, claims, strict=True):
                pipe.set(name, value, nx=True, ex=ttl)
            created = pipe.execute()
            taken = [name for name, ok in zip(names, created, strict=True) if not ok]
            stored = (
                dict(zip(taken, self._redis.mget(taken), strict=True)) if taken else {}
            )
        out = []
        for name, ok, (_, value, _) in zip(names, created, claims, strict=True):
            first = stored.get(name)
            if ok or first is None:  # None: it expired in between, so ours is new
                out.append((value, True))
            else:
                out.append(
                    (first.decode() if isinstance(first, bytes) else str(first), False)
                )
        return out


class MemoryClaims:
    """Claims in this process's memory."""

    def __init__(self) -> None:
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, claims: Sequence[Claim]) -> list[tuple[str, bool]]:
        with self._lock:
            return [
                (self._memory.setdefault(i, v), self._memory[i] == v)
                for i, v, _ in claims
            ]


def guess_extension(url: str) -> str:
    """The extension a URL's path names, if audio; else ``wav`` (the content
    type is still sniffed from the bytes when they arrive)."""
    suffix = urlsplit(url).path.rpartition(".")[2].lower()
    return suffix if suffix in _AUDIO_EXTENSIONS else "wav"


def claim(
    state: IndoxMediaState, found: Sequence[Found], user_id: str, route_id: str | None
) -> list[tuple[Asset, bool]]:
    """The asset each found item is stored as, and whether it is new: a new
    key, or the one its upstream identity got when first seen."""
    catalog = state.catalog
    results: list[tuple[Asset, bool] | None] = []
    claims: list[Claim] = []
    for item in found:
        ext = (
            item.media_type.extension
            if item.media_type
            else guess_extension(item.value)
        )
        fresh = catalog.new(item.rule.asset_class, user_id, ext)
        identity = item.identity(user_id, route_id)
        if identity is None:
            results.append((fresh, True))
            continue
        days = catalog.classes[item.rule.asset_class].retention_days
        ttl = (days + 1) * 86400 if days is not None else None
        claims.append((identity, f"{fresh.backend}|{fresh.key}", ttl))
        results.append(None)
    claimed = iter(state.claims.claim(claims) if claims else [])
    out = []
    for result in results:
        if result is None:
            value, new = next(claimed)
            backend, _, key = value.partition("|")
            result = (catalog.from_key(backend, key), new)
        out.append(result)
    return out
