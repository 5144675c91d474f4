"""Mirroring: fixing an asset's key when it is first seen, and copying its bytes
into the bucket, in an RQ job (or in-process when no Redis is configured)."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from .assets import Asset
from .exceptions import (
    AssetTooLargeError,
    IndoxMediaError,
    InvalidKeyPartError,
    SourceRejectedError,
    StorageError,
    UnsupportedMediaError,
)
from .fetch import Fetcher, HostPolicy, response_stream
from .media_types import MediaType
from .signals import asset_mirrored, mirror_failed

if TYPE_CHECKING:
    from .extension import IndoxMediaState
    from .hooks import Found

logger = logging.getLogger("flask_indox_media")

_AUDIO_EXTENSIONS = {"wav", "mp3", "ogg", "opus", "flac", "m4a", "webm", "mp4", "aac"}
_MAX_SOURCE_METADATA = 1024


def job_id(backend: str, key: str) -> str:
    """The deterministic RQ job id of the mirror of ``key`` (letters, digits, ``-``)."""
    return (
        "indox-mirror-" + hashlib.sha256(f"{backend}|{key}".encode()).hexdigest()[:40]
    )


def guess_extension(url: str) -> str:
    """The extension a URL's path names, if audio; else ``wav`` (the content
    type is still sniffed from the bytes when they arrive)."""
    suffix = urlsplit(url).path.rpartition(".")[2].lower()
    return suffix if suffix in _AUDIO_EXTENSIONS else "wav"


def _source_metadata(url: str) -> str:
    return (
        url
        if len(url) <= _MAX_SOURCE_METADATA and url.isascii()
        else url.split("?", 1)[0][:_MAX_SOURCE_METADATA]
    )


class KeyIndex:
    """Which key an upstream asset got when first seen: Redis ``SET NX`` shared
    by every process, or a dict (development without Redis, one process)."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(
        self, claims: list[tuple[str, str, int | None]]
    ) -> list[tuple[str, bool]]:
        """For each ``(identity, value, ttl)``: ``(value, True)`` if the identity
        is new, else ``(the value it got first, False)``. Two round trips to
        Redis at most, whatever the number of claims."""
        if self._redis is None:
            with self._lock:
                return [
                    (self._memory.setdefault(i, v), self._memory[i] == v)
                    for i, v, _ in claims
                ]
        names = [f"indox-media:asset:{identity}" for identity, _, _ in claims]
        pipe = self._redis.pipeline(transaction=False)
        for name, (_, value, ttl) in zip(names, claims, strict=True):
            pipe.set(name, value, nx=True, ex=ttl)
        created = pipe.execute()
        taken = [name for name, ok in zip(names, created, strict=True) if not ok]
        stored = dict(zip(taken, self._redis.mget(taken), strict=True)) if taken else {}
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


class MirrorService:
    """The mirroring side of one app's state."""

    def __init__(self, state: IndoxMediaState) -> None:
        self._state = state
        settings = state.settings
        self.redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        self.queue = (
            Queue(settings.queue, connection=self.redis)
            if self.redis is not None
            else None
        )
        self.index = KeyIndex(self.redis)
        self.fetcher = Fetcher(
            HostPolicy(settings.source_hosts),
            timeout=(settings.upstream_connect_timeout, settings.upstream_read_timeout),
        )
        if self.queue is None:
            logger.warning(
                "indox-media: INDOX_MEDIA_REDIS_URL is not set, so assets are mirrored "
                "in-process before each response returns. This is for development, "
                "not for production."
            )

    def __repr__(self) -> str:
        return f"<MirrorService queue={self.queue.name if self.queue else None!r}>"

    def claim(
        self, found: list[Found], user_id: str, route_id: str | None
    ) -> list[tuple[Asset, bool]]:
        """The asset each found item is stored as, and whether it is new: a new
        key, or the one its upstream identity got when first seen (so repeated
        polls give one object and one job)."""
        state = self._state
        classes = state.settings.classes
        results: list[tuple[Asset, bool] | None] = []
        claims: list[tuple[str, str, int | None]] = []
        for item in found:
            ext = (
                item.media_type.extension
                if item.media_type
                else guess_extension(item.value)
            )
            fresh = state.new_asset(item.rule.asset_class, user_id, ext)
            identity = item.identity(user_id, route_id)
            if identity is None:
                results.append((fresh, True))
                continue
            days = classes[item.rule.asset_class].retention_days
            ttl = (days + 1) * 86400 if days is not None else None
            claims.append((identity, f"{fresh.backend}|{fresh.key}", ttl))
            results.append(None)
        claimed = iter(self.index.claim(claims) if claims else [])
        out = []
        for result in results:
            if result is None:
                value, new = next(claimed)
                backend, _, key = value.partition("|")
                result = (Asset(classes.parse(key), backend), new)
            out.append(result)
        return out

    def _metadata(self, asset: Asset, source_url: str | None) -> dict[str, str]:
        meta = {
            "user-id": asset.user_id,
            "asset-class": asset.asset_class,
            "request-id": asset.parsed.request_id,
        }
        if source_url:
            meta["source-url"] = _source_metadata(source_url)
        return meta

    def store_inline(self, asset: Asset, item: Found) -> None:
        """Upload decoded inline audio now (the bytes are already in hand)."""
        assert item.data is not None and item.media_type is not None
        self._store(asset, io.BytesIO(item.data), item.media_type, None)

    def _store(
        self, asset: Asset, stream: Any, media_type: MediaType, source_url: str | None
    ) -> dict[str, Any]:
        backend = self._state.backends[asset.backend]
        start = time.perf_counter()
        size = backend.put(
            asset.key,
            stream,
            content_type=media_type.content_type,
            metadata=self._metadata(asset, source_url),
        )
        seconds = time.perf_counter() - start
        asset_mirrored.send(
            self._state,
            key=asset.key,
            asset_class=asset.asset_class,
            size=size,
            seconds=seconds,
            skipped=False,
        )
        logger.info(
            "indox-media: mirrored %s (%d bytes, %.3fs)", asset.key, size, seconds
        )
        self.replicate_later(asset)
        return {
            "key": asset.key,
            "size": size,
            "content_type": media_type.content_type,
            "skipped": False,
        }

    def schedule(self, asset: Asset, source_url: str) -> None:
        """Mirror ``source_url`` into ``asset``: a unique RQ job, or in-process
        (errors logged) without Redis."""
        kwargs = {"backend": asset.backend, "key": asset.key, "source_url": source_url}
        if self.queue is None:
            try:
                self.mirror_url(**kwargs)
            except IndoxMediaError:
                logger.warning("indox-media: in-process mirror of %s failed", asset.key)
            return
        from . import jobs

        settings = self._state.settings
        try:
            self.queue.enqueue(
                jobs.mirror_url,
                kwargs=kwargs,
                job_id=job_id(asset.backend, asset.key),
                unique=True,
                retry=self.retry_policy(),
                job_timeout=settings.job_timeout,
                failure_ttl=settings.failure_ttl,
                result_ttl=3600,
                description=f"mirror {asset.key}",
            )
        except DuplicateJobError:
            pass  # already queued, running, or done: one object either way

    def mirror_url(self, backend: str, key: str, source_url: str) -> dict[str, Any]:
        """Download ``source_url`` and store it at ``key`` unless it is there.

        :raises SourceRejectedError: the URL may not be fetched (no retry helps).
        :raises UnsupportedMediaError: the bytes are not audio.
        :raises AssetTooLargeError: over ``INDOX_MEDIA_MAX_ASSET_BYTES``.
        :raises StorageError: the upload failed.
        """
        state = self._state
        asset = Asset(state.settings.classes.parse(key), backend)
        target = state.backends[backend]
        if target.exists(key):
            asset_mirrored.send(
                state,
                key=key,
                asset_class=asset.asset_class,
                size=0,
                seconds=0.0,
                skipped=True,
            )
            return {"key": key, "skipped": True}
        try:
            with self.fetcher.open(source_url) as response:
                if response.status_code != 200:
                    raise StorageError(f"source answered {response.status_code}")
                stream = response_stream(response, state.settings.max_asset_bytes)
                media_type = stream.media_type
                allowed = (
                    ("audio", "video", "image")
                    if asset.asset_class == "watermark"
                    else ("audio",)
                )
                if media_type is None or media_type.kind not in allowed:
                    raise UnsupportedMediaError("the source is not audio")
                return self._store(asset, stream, media_type, source_url)
        except (
            SourceRejectedError,
            UnsupportedMediaError,
            AssetTooLargeError,
            StorageError,
        ) as exc:
            self._failed(asset, exc)
            raise
        except requests.RequestException as exc:
            self._failed(asset, exc)
            raise StorageError(f"download failed: {type(exc).__name__}") from exc

    def _failed(self, asset: Asset, exc: Exception) -> None:
        logger.warning(
            "indox-media: mirror of %s failed: %s", asset.key, type(exc).__name__
        )
        mirror_failed.send(
            self._state,
            key=asset.key,
            asset_class=asset.asset_class,
            error=type(exc).__name__,
        )

    def _job(self, asset: Asset) -> Job | None:
        if self.redis is None:
            return None
        try:
            return Job.fetch(job_id(asset.backend, asset.key), connection=self.redis)
        except NoSuchJobError:
            return None

    def pending_source(self, asset: Asset) -> tuple[str, str] | None:
        """For an asset not stored yet: ``("pending" | "failed", source URL)``
        from its mirror job, or ``None`` when no job is known."""
        job = self._job(asset)
        if job is None or job.get_status() in (
            JobStatus.FINISHED,
            JobStatus.CANCELED,
            JobStatus.STOPPED,
        ):
            return None
        status = "failed" if job.get_status() == JobStatus.FAILED else "pending"
        return status, str(job.kwargs.get("source_url", ""))

    def cancel(self, asset: Asset) -> None:
        """Drop the asset's mirror job, so a deleted object does not reappear."""
        job = self._job(asset)
        if job is not None:
            job.delete()

    def replicate_later(self, asset: Asset) -> None:
        """Copy a freshly written asset to the ``INDOX_MEDIA_MIRROR_BACKENDS``
        (dual-write): in a job, or in-process without Redis."""
        if not self._state.settings.mirror_backends:
            return
        if self.queue is None:
            self.replicate(asset.backend, asset.key)
            return
        from . import jobs

        try:
            self.queue.enqueue(
                jobs.replicate,
                kwargs={"backend": asset.backend, "key": asset.key},
                job_id="indox-replicate-" + job_id(asset.backend, asset.key)[13:],
                unique=True,
                retry=self.retry_policy(),
                job_timeout=self._state.settings.job_timeout,
                failure_ttl=self._state.settings.failure_ttl,
                description=f"replicate {asset.key}",
            )
        except DuplicateJobError:
            pass

    def replicate(self, backend: str, key: str) -> list[str]:
        """Copy ``key`` from ``backend`` to every other write backend that lacks
        it; returns the backends it was copied to."""
        from .ops import copy_object

        settings = self._state.settings
        source = self._state.backends[backend]
        targets = [
            n
            for n in (settings.storage_backend, *settings.mirror_backends)
            if n != backend
        ]
        return [n for n in targets if copy_object(source, self._state.backends[n], key)]

    def retry_policy(self) -> Retry | None:
        """``rq.Retry`` from ``INDOX_MEDIA_JOB_RETRIES`` (``None``: no retries)."""
        retries = self._state.settings.job_retries
        return Retry(max=len(retries), interval=list(retries)) if retries else None

    def cancel_user(self, user_id: str) -> int:
        """Cancel every queued, scheduled, deferred or failed job (and stop any
        running one) that would write an object of ``user_id``; returns how many."""
        if self.queue is None or self.redis is None:
            return 0
        from rq.command import send_stop_job_command
        from rq.registry import (
            DeferredJobRegistry,
            FailedJobRegistry,
            ScheduledJobRegistry,
            StartedJobRegistry,
        )

        queue, classes = self.queue, self._state.settings.classes
        waiting = set(queue.get_job_ids())
        for registry in (ScheduledJobRegistry, DeferredJobRegistry, FailedJobRegistry):
            waiting.update(registry(queue=queue).get_job_ids())
        running = set(StartedJobRegistry(queue=queue).get_job_ids())
        cancelled = 0
        for job in Job.fetch_many(sorted(waiting | running), connection=self.redis):
            if job is None:
                continue
            try:
                owner = classes.parse(str((job.kwargs or {}).get("key", ""))).user_id
            except InvalidKeyPartError:
                continue
            if owner != user_id:
                continue
            if job.id in running:
                send_stop_job_command(self.redis, job.id)
            job.delete()
            cancelled += 1
        return cancelled
