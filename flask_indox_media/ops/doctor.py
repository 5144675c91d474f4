"""``doctor``: every check an operator would run by hand, with what to do."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import requests
from redis import Redis
from redis.exceptions import RedisError, ResponseError

from ..exceptions import IndoxMediaError
from ..queue import JobQueue
from ..storage.base import BucketRules
from ..storage.local import LocalBackend
from .backend import show
from .bucket_rules import Plan, cors, lifecycle

if TYPE_CHECKING:
    from ..state import IndoxMediaState

SCRATCH_PREFIX = "indox-media-doctor/"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: str  # "ok", "warn" or "FAIL"
    detail: str
    fix: str = ""


def _run(name: str, fn: Callable[[], str], fix: str) -> Check:
    try:
        return Check(name, "ok", fn())
    except (IndoxMediaError, OSError, requests.RequestException) as exc:
        return Check(name, "FAIL", f"{type(exc).__name__}: {exc}", fix)


def _bucket(backend: BucketRules) -> str:
    backend.check_bucket()
    return f"{backend.bucket} reachable"


def _in_sync(
    fn: Callable[[IndoxMediaState, str], Plan], state: IndoxMediaState, name: str
) -> bool:
    return fn(state, name).in_sync


def _round_trip(backend_name: str, state: IndoxMediaState) -> str:
    backend = state.catalog.backends[backend_name]
    key = f"{SCRATCH_PREFIX}{secrets.token_hex(8)}"
    data = b"indox-media doctor " + secrets.token_bytes(16)
    backend.put(key, io.BytesIO(data), content_type="application/octet-stream")
    try:
        with backend.open(key) as stream:
            if stream.read() != data:
                raise IndoxMediaError("read back different bytes")
    finally:
        backend.delete(key)
    if backend.exists(key):
        raise IndoxMediaError("the scratch object survived its delete")
    return "put, get and delete under " + SCRATCH_PREFIX


def checks(state: IndoxMediaState) -> Iterator[Check]:
    """Run every check, yielding each result as it comes."""
    settings = state.settings
    yield Check(
        "configuration",
        "ok",
        f"start-up write backend {settings.storage_backend} (chosen by "
        f"{settings.storage_backend_source}); configured: "
        f"{', '.join(state.catalog.backends)}"
        + (
            f"; mirrors to {', '.join(settings.mirror_backends)}"
            if settings.mirror_backends
            else ""
        ),
    )
    yield _override_check(state)
    for name, backend in state.catalog.backends.items():
        if isinstance(backend, BucketRules):
            yield _run(
                f"{name}: bucket",
                partial(_bucket, backend),
                f"check INDOX_MEDIA_{name.upper()}_BUCKET, its credentials and endpoint"
                + (" (and INDOX_MEDIA_R2_JURISDICTION)" if name == "r2" else ""),
            )
        elif isinstance(backend, LocalBackend):
            yield Check(f"{name}: folder", "ok", backend.root)
        yield _run(
            f"{name}: round trip",
            partial(_round_trip, name, state),
            "the credentials need read, write and delete on the bucket",
        )
        if isinstance(backend, BucketRules):
            yield _rules_check(
                f"{name}: lifecycle",
                partial(_in_sync, lifecycle, state, name),
                f"flask indox-media lifecycle apply --backend {name}",
                "the retention table",
            )
            if settings.cors_origins:
                yield _rules_check(
                    f"{name}: CORS",
                    partial(_in_sync, cors, state, name),
                    f"flask indox-media cors apply --backend {name}",
                    "INDOX_MEDIA_CORS_ORIGINS",
                )
    yield from _queue_checks(state)
    yield _run(
        "upstream",
        lambda: _upstream(state),
        "check INDOX_MEDIA_RESEMBLE_BASE_URL and the network",
    )


def _override_check(state: IndoxMediaState) -> Check:
    name = "write backend"
    if state.redis is None:
        return Check(
            name, "ok", f"{state.settings.storage_backend} (no Redis: no override)"
        )
    try:
        active = show(state)
    except IndoxMediaError as exc:
        return Check(name, "FAIL", str(exc), "check INDOX_MEDIA_REDIS_URL")
    if active.ignored is not None:
        return Check(
            name,
            "warn",
            f"{active.backend}; {active.ignored}",
            "flask indox-media backend clear (or use a configured one)",
        )
    if active.override is not None:
        return Check(
            name,
            "warn",
            f"{active.backend}: runtime override set by {active.override.set_by} "
            f"at {active.override.set_at} (start-up choice: {active.startup})",
            "flask indox-media backend clear, once the rollback is over",
        )
    return Check(name, "ok", f"{active.backend} (no runtime override)")


def _rules_check(
    name: str, in_sync: Callable[[], bool], fix: str, source: str
) -> Check:
    try:
        ok = in_sync()
    except IndoxMediaError as exc:
        return Check(
            name, "FAIL", f"{type(exc).__name__}: {exc}", "check the bucket permissions"
        )
    return (
        Check(name, "ok", f"matches {source}")
        if ok
        else Check(name, "FAIL", f"differs from {source}", fix)
    )


def _queue_checks(state: IndoxMediaState) -> Iterator[Check]:
    queue = state.queue
    if not isinstance(queue, JobQueue):
        yield Check(
            "queue",
            "warn",
            "no INDOX_MEDIA_REDIS_URL: mirroring runs in-process",
            "set INDOX_MEDIA_REDIS_URL in production",
        )
        return
    try:
        workers = queue.workers()
        failed = queue.failed_count()
        waiting = queue.count()
    except IndoxMediaError as exc:
        yield Check("redis", "FAIL", str(exc), "check INDOX_MEDIA_REDIS_URL")
        return
    yield Check("redis", "ok", f"reachable; {waiting} job(s) waiting")
    yield _persistence(queue.redis)
    yield (
        Check("workers", "ok", f"{len(workers)} alive on {queue.name!r}")
        if workers
        else Check(
            "workers",
            "FAIL",
            f"none on {queue.name!r}",
            "run: flask indox-media worker",
        )
    )
    yield (
        Check("failed jobs", "ok", "none")
        if not failed
        else Check(
            "failed jobs",
            "warn",
            f"{failed} in the failed registry",
            f"inspect with `rq info`, re-run with `rq requeue --all --queue {queue.name}`",
        )
    )


_PERSIST_FIX = (
    "turn on the append-only file (appendonly yes, appendfsync everysec) or "
    "RDB snapshots (save 60 1): a Redis restart otherwise loses every queued "
    "mirror and claim (see the reliability docs)"
)


def _persistence(redis: Redis) -> Check:
    """Whether the queue's Redis keeps its data across a restart."""
    try:
        aof = str(redis.info("persistence").get("aof_enabled", 0)) == "1"
        try:
            rdb = bool(str(redis.config_get("save").get("save", "")).strip())
        except ResponseError:  # CONFIG disabled (managed Redis)
            rdb = None
    except RedisError as exc:
        return Check("redis persistence", "warn", f"unknown: {exc}", _PERSIST_FIX)
    if aof:
        return Check("redis persistence", "ok", "append-only file on")
    if rdb:
        return Check(
            "redis persistence",
            "ok",
            "RDB snapshots only (a crash loses the writes since the last one; "
            "polls heal those)",
        )
    if rdb is None:
        return Check(
            "redis persistence",
            "warn",
            "no append-only file; snapshots unknown (CONFIG is disabled)",
            _PERSIST_FIX,
        )
    return Check("redis persistence", "warn", "neither AOF nor RDB is on", _PERSIST_FIX)


def _upstream(state: IndoxMediaState) -> str:
    upstream = state.upstream
    response = upstream.request(
        "GET", upstream.v2_url("voices"), params={"page": 1, "page_size": 10}
    )
    with response:
        if response.status_code in (401, 403):
            raise IndoxMediaError(
                f"Resemble refused the key ({response.status_code}): check INDOX_MEDIA_RESEMBLE_API_KEY"
            )
        return f"{upstream.base_url} answered {response.status_code}"
