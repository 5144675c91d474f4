"""The per-app state (at ``app.extensions["indox_media"]``) and the one
accessor to it, :func:`current_state`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from flask import current_app
from redis import Redis

from .assets import AssetIds
from .catalog import AssetCatalog
from .config import Settings
from .fetch import Fetcher, HostPolicy
from .mirror.claims import MemoryClaims, RedisClaims
from .playback import PlaybackLinks
from .queue import InlineQueue, JobQueue
from .storage.base import StorageBackend
from .upstream import UpstreamClient
from .write_backend import WriteBackend

if TYPE_CHECKING:
    from .extension import IndoxMedia

#: Where the state lives in ``app.extensions``.
EXTENSION_KEY = "indox_media"


class IndoxMediaState:
    """Everything the extension keeps for one app.

    :ivar settings: the frozen :class:`~flask_indox_media.config.Settings`.
    :ivar write_backend: the name of the backend new assets go to (the
        start-up choice or an operator's runtime override), as a function.
    :ivar catalog: the assets and the backends that hold them.
    :ivar queue: the job queue (RQ, or in-process without Redis).
    :ivar claims: which key each upstream asset got when first seen.
    :ivar upstream: the Resemble client.
    :ivar fetcher: fetches source URLs, SSRF-safe.
    :ivar redis: the Redis connection, or ``None``.
    """

    def __init__(
        self,
        extension: IndoxMedia,
        settings: Settings,
        backends: Mapping[str, StorageBackend],
    ) -> None:
        self.extension = extension
        self.settings = settings
        self.redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        self.write_backend = WriteBackend(
            self.redis, list(backends), settings.storage_backend
        )
        ids = AssetIds(settings.signing_keys, settings.classes)
        self.catalog = AssetCatalog(
            backends,
            self.write_backend,
            settings.classes,
            ids,
            presign_ttl=settings.presign_ttl,
            clock=extension.clock,
            playback=PlaybackLinks(
                settings.signing_keys, ids, ttl=settings.playback_ttl
            ),
        )
        self.queue: JobQueue | InlineQueue
        self.claims: RedisClaims | MemoryClaims
        if self.redis is not None:
            self.queue = JobQueue(self.redis, settings)
            self.claims = RedisClaims(self.redis)
        else:
            self.queue = InlineQueue()
            self.claims = MemoryClaims()
        self.upstream = UpstreamClient(settings)
        self.fetcher = Fetcher(
            HostPolicy(settings.source_hosts),
            timeout=(settings.upstream_connect_timeout, settings.upstream_read_timeout),
        )

    def __repr__(self) -> str:
        return f"<IndoxMediaState backend={self.settings.storage_backend!r}>"

    def current_user(self) -> str | None:
        """The caller's user id from the identity loader, or ``None``."""
        loader = self.extension.identity_loader_callback
        return loader() if loader is not None else None


def current_state() -> IndoxMediaState:
    """The current app's state.

    :raises RuntimeError: outside an app context, or before ``init_app``.
    """
    try:
        state: IndoxMediaState = current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "IndoxMedia is not registered on the current app: call "
            "media.init_app(app) first."
        ) from None
    return state
