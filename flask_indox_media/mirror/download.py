"""Copying an asset's bytes into its object: the body of the mirror job, the
store of bytes already in hand, and the job's scheduling, status and cancel."""

from __future__ import annotations

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
from ..media_types import MediaType
from ..queue import JobSpec
from ..signals import asset_mirrored, mirror_failed
from .detect import Found
from .replicate import replicate_later

if TYPE_CHECKING:
    from ..state import IndoxMediaState

logger = logging.getLogger("flask_indox_media")

#: The job function, enqueued by dotted path.
MIRROR_JOB = "flask_indox_media.jobs.mirror_url"
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
    """Upload decoded inline audio now (the bytes are already in hand)."""
    assert item.data is not None and item.media_type is not None
    store(state, asset, io.BytesIO(item.data), item.media_type, None)


def schedule(state: IndoxMediaState, mirrors: Sequence[tuple[Asset, str]]) -> None:
    """Mirror each ``(asset, source URL)`` in a job of its own, all enqueued in
    one Redis round trip. Only for assets whose claim is new: the batch does
    not check job ids (see :meth:`~flask_indox_media.queue.JobQueue.enqueue_many`).
    """
    state.queue.enqueue_many(
        [
            JobSpec(
                MIRROR_JOB,
                {"backend": asset.backend, "key": asset.key, "source_url": url},
                description=f"mirror {asset.key}",
                job_id=job_id(asset),
            )
            for asset, url in mirrors
        ]
    )


def mirror_url(
    state: IndoxMediaState, backend: str, key: str, source_url: str
) -> dict[str, Any]:
    """Download ``source_url`` and store it at ``key`` unless it is there.

    The write is conditional (``if_absent``): it is the existence check, so a
    first run makes no request before it, and a re-run (a retry after the
    object was written) downloads again and is refused by the storage, then
    reports ``skipped``. Claims make such re-runs rare.

    :raises SourceRejectedError: the URL may not be fetched (no retry helps).
    :raises UnsupportedMediaError: the bytes are not audio.
    :raises AssetTooLargeError: over ``INDOX_MEDIA_MAX_ASSET_BYTES``.
    :raises StorageError: the upload (or the download) failed.
    """
    asset = state.catalog.from_key(backend, key)
    try:
        with state.fetcher.open(source_url) as response:
            if response.status_code != 200:
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
    except (
        SourceRejectedError,
        UnsupportedMediaError,
        AssetTooLargeError,
        StorageError,
    ) as exc:
        _failed(state, asset, exc)
        raise
    except requests.RequestException as exc:
        _failed(state, asset, exc)
        raise StorageError(f"download failed: {type(exc).__name__}") from exc


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
