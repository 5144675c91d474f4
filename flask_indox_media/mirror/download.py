"""Copying an asset's bytes into its object: the body of the mirror job, the
store of bytes already in hand (now, or in a job that carries them while the
storage is down), and the jobs' scheduling, status and cancel."""

from __future__ import annotations

import base64
import binascii
import io
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import requests

from ..assets import Asset
from ..exceptions import (
    AssetTooLargeError,
    ObjectExistsError,
    SourceRejectedError,
    StorageError,
    UnsupportedMediaError,
)
from ..fetch import response_stream
from ..job_batch import JobSpec
from ..media_types import MediaType, from_content_type
from ..queue import mark_permanent
from ..signals import asset_mirrored, mirror_failed
from .detect import Found
from .replicate import replicate_later

if TYPE_CHECKING:
    from ..state import IndoxMediaState

logger = logging.getLogger("flask_indox_media")

#: The job function, enqueued by dotted path.
MIRROR_JOB = "flask_indox_media.jobs.mirror_url"
#: The job that stores inline audio the request could not (storage down).
STORE_JOB = "flask_indox_media.jobs.store_audio"
#: Every job that puts an asset in the bucket (the worker re-runs their
#: transient failures).
STORING_JOBS = (MIRROR_JOB, STORE_JOB)

_MAX_SOURCE_METADATA = 1024
#: What each asset class accepts from a source (watermarking takes any media).
_ALLOWED_KINDS = {"watermark": ("audio", "video", "image")}


def job_id(asset: Asset) -> str:
    """The deterministic RQ job id of ``asset``'s mirror (letters, digits, ``-``)."""
    return "indox-mirror-" + asset.digest


def _source_metadata(url: str) -> str:
    return (
        url
        if len(url) <= _MAX_SOURCE_METADATA and url.isascii()
        else url.split("?", 1)[0][:_MAX_SOURCE_METADATA]
    )


def store(
    state: IndoxMediaState,
    asset: Asset,
    stream: BinaryIO,
    media_type: MediaType,
    source_url: str | None,
    *,
    if_absent: bool = False,
) -> dict[str, Any]:
    """Write ``stream`` as ``asset``'s object, signal it, and schedule its
    dual-write copies. With ``if_absent``, an object already there is kept
    and the result says ``skipped``."""
    metadata = {"source-url": _source_metadata(source_url)} if source_url else {}
    start = time.perf_counter()
    try:
        size = state.catalog.write(
            asset,
            stream,
            content_type=media_type.content_type,
            metadata=metadata,
            if_absent=if_absent,
        )
    except ObjectExistsError:
        return _skipped(state, asset)
    seconds = time.perf_counter() - start
    asset_mirrored.send(
        state,
        key=asset.key,
        asset_class=asset.asset_class,
        size=size,
        seconds=seconds,
        skipped=False,
    )
    logger.info("indox-media: mirrored %s (%d bytes, %.3fs)", asset.key, size, seconds)
    replicate_later(state, asset)
    return {
        "key": asset.key,
        "size": size,
        "content_type": media_type.content_type,
        "skipped": False,
    }


def _skipped(state: IndoxMediaState, asset: Asset) -> dict[str, Any]:
    asset_mirrored.send(
        state,
        key=asset.key,
        asset_class=asset.asset_class,
        size=0,
        seconds=0.0,
        skipped=True,
    )
    return {"key": asset.key, "skipped": True}


def store_inline(state: IndoxMediaState, asset: Asset, item: Found) -> None:
    """Upload decoded inline audio now (the bytes are already in hand).

    :raises StorageError: the upload failed.
    """
    assert item.data is not None and item.media_type is not None
    store(state, asset, io.BytesIO(item.data), item.media_type, None)


def store_later(state: IndoxMediaState, asset: Asset, item: Found) -> bool:
    """Store inline audio in a job that carries it (the storage failed now):
    the bytes wait in Redis, the one case where Redis holds audio. ``False``
    when that cannot help: over ``INDOX_MEDIA_MAX_INLINE_JOB_BYTES``, or no
    durable queue.

    :raises QueueError: Redis failed.
    """
    assert item.data is not None and item.media_type is not None
    if not state.queue.durable or len(item.data) > state.settings.max_inline_job_bytes:
        return False
    state.queue.enqueue(
        STORE_JOB,
        {
            "backend": asset.backend,
            "key": asset.key,
            "audio": base64.b64encode(item.data).decode("ascii"),
            "content_type": item.media_type.content_type,
        },
        description=f"store {asset.key}",
        job_id=job_id(asset),
    )
    return True


def store_audio(
    state: IndoxMediaState, backend: str, key: str, audio: str, content_type: str
) -> dict[str, Any]:
    """The body of :data:`STORE_JOB`: write the carried bytes unless the
    object is there.

    :raises StorageError: the upload failed (retried).
    """
    asset = state.catalog.from_key(backend, key)
    media_type = from_content_type(content_type)
    try:
        data = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if media_type is None or not data:
        mark_permanent("garbled audio")
        raise UnsupportedMediaError("the job carries no audio")
    try:
        return store(state, asset, io.BytesIO(data), media_type, None, if_absent=True)
    except StorageError as exc:
        _failed(state, asset, exc)
        raise


#: One URL mirror to schedule: the asset, its source URL, its claim's name.
Mirror = tuple[Asset, str, str | None]


def schedule(state: IndoxMediaState, mirrors: Sequence[Mirror]) -> None:
    """Mirror each ``(asset, source URL, claim)`` in a job of its own, all
    enqueued in one Redis round trip. Only for assets whose claim is new (or
    whose job is known lost): the batch does not check job ids (see
    :meth:`~flask_indox_media.queue.JobQueue.enqueue_many`).

    :raises QueueError: Redis failed.
    """
    state.queue.enqueue_many(
        [
            JobSpec(
                MIRROR_JOB,
                {"backend": asset.backend, "key": asset.key, "source_url": url}
                | ({"claim": claim} if claim else {}),
                description=f"mirror {asset.key}",
                job_id=job_id(asset),
            )
            for asset, url, claim in mirrors
        ]
    )


def mirror_url(
    state: IndoxMediaState,
    backend: str,
    key: str,
    source_url: str,
    claim: str | None = None,
) -> dict[str, Any]:
    """Download ``source_url`` and store it at ``key`` unless it is there,
    then mark the asset's ``claim`` mirrored (so later polls check nothing).

    The write is conditional (``if_absent``): it is the existence check, so a
    first run makes no request before it, and a re-run (a retry after the
    object was written) downloads again and is refused by the storage, then
    reports ``skipped``. Claims make such re-runs rare.

    A failure no retry can mend (the source refused, not audio, too large)
    is marked permanent on the job, so nothing re-runs it.

    :raises SourceRejectedError: the URL may not be fetched (no retry helps).
    :raises UnsupportedMediaError: the bytes are not audio.
    :raises AssetTooLargeError: over ``INDOX_MEDIA_MAX_ASSET_BYTES``.
    :raises StorageError: the upload (or the download) failed.
    """
    asset = state.catalog.from_key(backend, key)
    try:
        result = _download_and_store(state, asset, source_url)
    except (SourceRejectedError, UnsupportedMediaError, AssetTooLargeError) as exc:
        mark_permanent(type(exc).__name__)
        _failed(state, asset, exc)
        raise
    except StorageError as exc:
        _failed(state, asset, exc)
        raise
    except requests.RequestException as exc:
        _failed(state, asset, exc)
        raise StorageError(f"download failed: {type(exc).__name__}") from exc
    if claim is not None:
        state.claims.mark_mirrored(claim, asset)
    return result


def _download_and_store(
    state: IndoxMediaState, asset: Asset, source_url: str
) -> dict[str, Any]:
    with state.fetcher.open(source_url) as response:
        if response.status_code != 200:
            # Not permanent: a signed source URL may have expired, and a
            # re-poll reschedules with the fresh one.
            raise StorageError(f"source answered {response.status_code}")
        stream = response_stream(response, state.settings.max_asset_bytes)
        media_type = stream.media_type
        allowed = _ALLOWED_KINDS.get(asset.asset_class, ("audio",))
        if media_type is None or media_type.kind not in allowed:
            raise UnsupportedMediaError("the source is not audio")
        return store(
            state,
            asset,
            stream,  # type: ignore[arg-type]
            media_type,
            source_url,
            if_absent=True,
        )


def _failed(state: IndoxMediaState, asset: Asset, exc: Exception) -> None:
    logger.warning(
        "indox-media: mirror of %s failed: %s", asset.key, type(exc).__name__
    )
    mirror_failed.send(
        state, key=asset.key, asset_class=asset.asset_class, error=type(exc).__name__
    )


def pending(state: IndoxMediaState, asset: Asset) -> tuple[str, str] | None:
    """For an asset not stored yet: ``("pending" | "failed", source URL)``
    from its mirror job, or ``None`` when no job is known."""
    found = state.queue.status(job_id(asset))
    if found is None:
        return None
    status, kwargs = found
    return status, str(kwargs.get("source_url", ""))


def cancel(state: IndoxMediaState, asset: Asset) -> None:
    """Drop the asset's mirror job, so a deleted object does not reappear."""
    state.queue.cancel(job_id(asset))
