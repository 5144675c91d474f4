"""Claims: the key an upstream asset got when first seen, so repeated polls of
one job give one object and one job. Redis ``SET NX`` shared by every process,
or a dict without Redis (development, one process).

A claim's value is ``backend|key``, and ``backend|key|mirrored`` once its
object is known to be stored (so a poll of a mirrored asset checks nothing
more). Each user's claims are listed in a sorted set (score: when the claim
expires), so erasing a user or deleting one asset forgets them too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from redis import Redis

from ..assets import Asset
from ..queue import redis_errors
from .detect import Found

if TYPE_CHECKING:
    from ..state import IndoxMediaState

#: Redis keys of claims start with this.
CLAIM_PREFIX = "indox-media:asset:"
#: Each user's sorted set of claim names (score: expiry, epoch seconds).
USER_CLAIMS_PREFIX = "indox-media:user-claims:"
#: The suffix of a claim whose object is stored.
MIRRORED = "|mirrored"
_AUDIO_EXTENSIONS = {"wav", "mp3", "ogg", "opus", "flac", "m4a", "webm", "mp4", "aac"}

# Compare and set in one step: GET then SET would race an erase.
_MARK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
end
return false
"""

# Every claim of an answer in one command: SET NX each (with its expiry),
# read back what won when it was taken, list it under the user. KEYS: the
# claims' names, then the user's index if ARGV[1] is "1"; ARGV[2]: now (what
# expired leaves the index); ARGV[3]: per claim its value, its ttl ("" for
# none) and its index score, each ending in a line break (one argument:
# redis-py packs each argument in Python, 5 µs apiece on these machines).
# Returns per claim "" when set, else the value it has.
_CLAIM = """
local indexed = ARGV[1] == '1'
local n = #KEYS
if indexed then n = n - 1 end
local parts = {}
for part in string.gmatch(ARGV[3], '([^\\n]*)\\n') do parts[#parts + 1] = part end
local out = {}
for i = 1, n do
  local value, ttl, score = parts[3 * i - 2], parts[3 * i - 1], parts[3 * i]
  local set
  if ttl == '' then
    set = redis.call('SET', KEYS[i], value, 'NX')
  else
    set = redis.call('SET', KEYS[i], value, 'NX', 'EX', ttl)
  end
  if set then out[i] = '' else out[i] = redis.call('GET', KEYS[i]) end
  if indexed then redis.call('ZADD', KEYS[n + 1], 'NX', score, KEYS[i]) end
end
if indexed then redis.call('ZREMRANGEBYSCORE', KEYS[n + 1], 0, ARGV[2]) end
return out
"""

#: ``(identity, value, ttl in seconds or None)``.
Claim = tuple[str, str, int | None]


@dataclass(frozen=True)
class Claimed:
    """What a found item is stored as.

    :ivar new: the key was fixed by this call (its mirror is to be arranged).
    :ivar name: the claim's name (``None``: the item has no identity, so it
        is always new).
    :ivar mirrored: the claim says the object is stored.
    """

    asset: Asset
    new: bool
    name: str | None = None
    mirrored: bool = False


def claim_value(asset: Asset, *, mirrored: bool = False) -> str:
    """The value of ``asset``'s claim."""
    return f"{asset.backend}|{asset.key}" + (MIRRORED if mirrored else "")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _split(value: str) -> tuple[str, bool]:
    return value.removesuffix(MIRRORED), value.endswith(MIRRORED)


class RedisClaims:
    """Claims in Redis, shared by every gateway process."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._mark = redis.register_script(_MARK)
        self._claim = redis.register_script(_CLAIM)

    def claim(
        self, claims: Sequence[Claim], user_id: str | None = None
    ) -> list[tuple[str, bool]]:
        """For each claim: ``(value, True)`` if the identity is new, else
        ``(the value it got first, False)``. One round trip, whatever the
        number of claims: one script runs each ``SET NX`` and, where the
        identity was taken, reads the value that won; with ``user_id`` each
        claim is also listed under the user.

        :raises QueueError: Redis failed.
        """
        now = time.time()
        keys = [CLAIM_PREFIX + identity for identity, _, _ in claims]
        lines = "".join(
            f"{value}\n\ninf\n" if ttl is None else f"{value}\n{ttl}\n{now + ttl!r}\n"
            for _, value, ttl in claims
        )
        if lines.count("\n") != 3 * len(claims):
            raise ValueError("a claim's value has a line break")
        args = ["1" if user_id is not None else "0", repr(now), lines]
        if user_id is not None:
            keys.append(USER_CLAIMS_PREFIX + user_id)
        with redis_errors():
            replies = self._claim(keys=keys, args=args)
        return [
            (value, True) if not first else (_text(first), False)
            for (_, value, _), first in zip(claims, replies, strict=True)
        ]

    def mark_mirrored(self, name: str, asset: Asset) -> None:
        """Record that ``asset``'s object is stored, if the claim still names
        it (never a claim made afresh for a new key after an erase). One
        round trip.

        :raises QueueError: Redis failed.
        """
        with redis_errors():
            self._mark(
                keys=[name],
                args=[claim_value(asset), claim_value(asset, mirrored=True)],
            )

    def forget(self, user_id: str, keys: Collection[str] | None = None) -> int:
        """Delete ``user_id``'s claims (only those naming one of ``keys``, if
        given), so a later poll of the same upstream asset gets a new key and
        a new mirror. Returns how many were deleted.

        :raises QueueError: Redis failed.
        """
        index = USER_CLAIMS_PREFIX + user_id
        with redis_errors():
            names = [_text(n) for n in self._redis.zrange(index, 0, -1)]
            if not names:
                return 0
            if keys is not None:
                values = self._redis.mget(names)
                names = [
                    n
                    for n, v in zip(names, values, strict=True)
                    if v is not None and _split(_text(v))[0].partition("|")[2] in keys
                ]
                if not names:
                    return 0
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(*names)
            if keys is None:
                pipe.delete(index)
            else:
                pipe.zrem(index, *names)
            deleted: int = pipe.execute()[0]
        return deleted


class MemoryClaims:
    """Claims in this process's memory."""

    def __init__(self) -> None:
        self._memory: dict[str, str] = {}
        self._users: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def claim(
        self, claims: Sequence[Claim], user_id: str | None = None
    ) -> list[tuple[str, bool]]:
        with self._lock:
            out = []
            for identity, value, _ in claims:
                name = CLAIM_PREFIX + identity
                first = self._memory.setdefault(name, value)
                if user_id is not None:
                    self._users.setdefault(user_id, set()).add(name)
                out.append((first, first == value))
            return out

    def mark_mirrored(self, name: str, asset: Asset) -> None:
        with self._lock:
            if self._memory.get(name) == claim_value(asset):
                self._memory[name] = claim_value(asset, mirrored=True)

    def forget(self, user_id: str, keys: Collection[str] | None = None) -> int:
        with self._lock:
            names = self._users.get(user_id, set())
            doomed = {
                n
                for n in names
                if n in self._memory
                and (
                    keys is None or _split(self._memory[n])[0].partition("|")[2] in keys
                )
            }
            for name in doomed:
                del self._memory[name]
            names -= doomed
            return len(doomed)


def guess_extension(url: str) -> str:
    """The extension a URL's path names, if audio; else ``wav`` (the content
    type is still sniffed from the bytes when they arrive)."""
    suffix = urlsplit(url).path.rpartition(".")[2].lower()
    return suffix if suffix in _AUDIO_EXTENSIONS else "wav"


def fresh(
    state: IndoxMediaState, item: Found, user_id: str, now: datetime | None = None
) -> Asset:
    """A new key for ``item`` (nothing is claimed), created ``now``."""
    ext = item.media_type.extension if item.media_type else guess_extension(item.value)
    return state.catalog.new(item.rule.asset_class, user_id, ext, now=now)


def claim(
    state: IndoxMediaState,
    found: Sequence[Found],
    user_id: str,
    route_id: str | None,
    now: datetime | None = None,
) -> list[Claimed]:
    """The asset each found item is stored as, and whether it is new: a new
    key (created ``now``), or the one its upstream identity got when first
    seen.

    :raises QueueError: Redis failed (nothing is known then).
    """
    catalog = state.catalog
    out: list[Claimed] = []
    asked: list[int] = []  # where in ``out`` each claim's answer goes
    claims: list[Claim] = []
    for item in found:
        asset = fresh(state, item, user_id, now)
        identity = item.identity(user_id, route_id)
        if identity is not None:
            days = catalog.classes[item.rule.asset_class].retention_days
            ttl = (days + 1) * 86400 if days is not None else None
            claims.append((identity, claim_value(asset), ttl))
            asked.append(len(out))
        out.append(Claimed(asset, True))
    answers = state.claims.claim(claims, user_id) if claims else []
    for i, (identity, _, _), (value, new) in zip(asked, claims, answers, strict=True):
        name = CLAIM_PREFIX + identity
        if new:  # the key fixed here stands
            out[i] = Claimed(out[i].asset, True, name)
        else:
            location, mirrored = _split(value)
            backend, _, key = location.partition("|")
            out[i] = Claimed(catalog.from_key(backend, key), False, name, mirrored)
    return out
