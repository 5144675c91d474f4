"""``backend use | show | clear``: switching the write backend at runtime, for
a rollback without a restart. The override is a small Redis key
(:data:`~flask_indox_media.write_backend.OVERRIDE_KEY`) that every gateway
process and worker reads within
:data:`~flask_indox_media.write_backend.REFRESH_SECONDS`."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis import Redis

from ..exceptions import ConfigurationError
from ..keys import isoformat_z
from ..queue import redis_errors
from ..write_backend import OVERRIDE_KEY, Override

if TYPE_CHECKING:
    from ..state import IndoxMediaState

#: The source :func:`show` names while an override is in force.
OVERRIDE_SOURCE = "the runtime override"


@dataclass(frozen=True)
class Active:
    """The write backend in force and where it comes from."""

    backend: str
    source: str
    #: The override in force, or ``None``.
    override: Override | None
    #: Why a stored override is ignored, or ``None``.
    ignored: str | None
    #: The start-up choice (``$STORAGE_BACKEND``, the key, or the default).
    startup: str
    startup_source: str
    configured: tuple[str, ...]


def _redis(state: IndoxMediaState, action: str) -> Redis:
    if state.redis is None:
        raise ConfigurationError(
            f"backend {action} needs INDOX_MEDIA_REDIS_URL: the override is shared "
            "with every process through Redis (without it, set STORAGE_BACKEND "
            "and restart)",
            key="INDOX_MEDIA_REDIS_URL",
        )
    return state.redis


def operator() -> str:
    """``user@host`` of whoever runs the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def show(state: IndoxMediaState) -> Active:
    """What is in force now, read from Redis (not the cached value).

    :raises ConfigurationError: no Redis is configured.
    :raises QueueError: Redis failed.
    """
    redis = _redis(state, "show")
    with redis_errors():
        raw = redis.get(OVERRIDE_KEY)
    override, ignored = state.write_backend.parse(raw)
    settings = state.settings
    return Active(
        backend=override.backend if override else settings.storage_backend,
        source=OVERRIDE_SOURCE if override else settings.storage_backend_source,
        override=override,
        ignored=ignored,
        startup=settings.storage_backend,
        startup_source=settings.storage_backend_source,
        configured=state.write_backend.configured,
    )


def use(state: IndoxMediaState, name: str, set_by: str | None = None) -> Override:
    """Send new assets to the configured backend ``name`` from now on.

    :raises ConfigurationError: ``name`` is not configured, or no Redis is.
    :raises QueueError: Redis failed.
    """
    configured = state.write_backend.configured
    if name not in configured:
        raise ConfigurationError(
            f"{name!r} is not a configured backend; configured: "
            f"{', '.join(configured)}",
            key="STORAGE_BACKEND",
        )
    redis = _redis(state, "use")
    override = Override(
        name, set_by or operator(), isoformat_z(state.catalog.clock()) or ""
    )
    with redis_errors():
        redis.set(OVERRIDE_KEY, override.dumps())
    return override


def clear(state: IndoxMediaState) -> bool:
    """Drop the override: new assets go to the start-up choice again.

    :returns: whether there was one.
    :raises ConfigurationError: no Redis is configured.
    :raises QueueError: Redis failed.
    """
    redis = _redis(state, "clear")
    with redis_errors():
        return bool(redis.delete(OVERRIDE_KEY))
