"""The write backend in force: the one chosen at start-up, unless an operator
has stored a runtime override in Redis (``flask indox-media backend use s3``).

Every gateway process and worker reads the override through
:class:`WriteBackend`, which keeps the value for :data:`REFRESH_SECONDS` on the
monotonic clock: one Redis GET per refresh and process, never one per request,
and a switch reaches every process within that time. Only the backend of a
*new* asset follows it: an asset's backend is fixed when its key is (in its
id, its claim and its mirror job), so old links and queued mirrors are not
affected.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass

from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger("flask_indox_media")

#: The Redis key of the override: JSON ``{"backend", "set_by", "set_at"}``.
OVERRIDE_KEY = "indox-media:backend"
#: How long a process keeps the override it read, in seconds.
REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class Override:
    """An operator's choice of write backend, as stored in Redis."""

    backend: str
    #: Who set it (``user@host`` of the command).
    set_by: str
    #: When, ISO 8601 UTC.
    set_at: str

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> Override:
        """:raises ValueError: not an override's JSON."""
        try:
            data = json.loads(raw)
            return cls(str(data["backend"]), str(data["set_by"]), str(data["set_at"]))
        except (TypeError, KeyError, ValueError, RecursionError):
            raise ValueError("not an indox-media backend override") from None


class WriteBackend:
    """The name of the backend new assets go to, called as a function (the
    catalog's ``primary``). Safe to share between threads.

    :param redis: where the override lives; ``None``: there is none.
    :param configured: the names of the configured backends; an override
        naming another is ignored, with a warning.
    :param default: the start-up choice.
    :param clock: a monotonic clock, in seconds (for tests).
    """

    def __init__(
        self,
        redis: Redis | None,
        configured: Collection[str],
        default: str,
        *,
        ttl: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.configured = tuple(configured)
        self.default = default
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._name = default
        self._fresh_until = float("-inf")
        self._warned: object = None

    def __repr__(self) -> str:
        return f"<WriteBackend default={self.default!r}>"

    def __call__(self) -> str:
        if self.redis is None:
            return self.default
        if self._clock() < self._fresh_until:
            return self._name
        with self._lock:
            # Another thread may have refreshed while this one waited.
            if self._clock() >= self._fresh_until:
                self._name = self._refresh(self.redis)
                self._fresh_until = self._clock() + self._ttl
            return self._name

    def _refresh(self, redis: Redis) -> str:
        try:
            raw = redis.get(OVERRIDE_KEY)
        except RedisError as exc:
            # Writes go on where they went; the next refresh tries again.
            self._warn_once(
                ("redis", type(exc)),
                "indox-media: cannot read the backend override (%s); new assets "
                "still go to %s",
                type(exc).__name__,
                self._name,
            )
            return self._name
        override, problem = self.parse(raw)
        if problem is None:
            self._warned = None
        else:
            self._warn_once(raw, "indox-media: %s", problem)
        return override.backend if override is not None else self.default

    def _warn_once(self, what: object, message: str, *args: object) -> None:
        # Once per distinct problem, not at every refresh of every process.
        if what != self._warned:
            self._warned = what
            logger.warning(message, *args)

    def parse(self, raw: bytes | str | None) -> tuple[Override | None, str | None]:
        """The override a stored value holds, if it can be used, and else why
        not (``None`` when no override is stored)."""
        if raw is None:
            return None, None
        try:
            override = Override.loads(raw)
        except ValueError:
            return None, f"{OVERRIDE_KEY} in Redis is malformed and ignored"
        if override.backend not in self.configured:
            return None, (
                f"the backend override {override.backend!r} (set by "
                f"{override.set_by}) names no configured backend "
                f"({', '.join(self.configured)}) and is ignored"
            )
        return override, None
