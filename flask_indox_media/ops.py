"""What operators run: retention rules, CORS, sweeping, GDPR erase and export,
copying between backends. Each function takes the app's state and returns what
it did; the ``flask indox-media`` commands print it. All are safe to re-run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .assets import Asset
from .exceptions import (
    ConfigurationError,
    IndoxMediaError,
    InvalidKeyPartError,
    ObjectNotFoundError,
)
from .keys import AssetClassTable, isoformat_z, validate_user_id
from .storage.base import StorageBackend
from .storage.s3 import S3Backend

if TYPE_CHECKING:
    from .extension import IndoxMediaState

#: Rules and CORS entries this extension owns carry ids with this prefix; any
#: other rule in the bucket is kept as it is.
RULE_PREFIX = "indox-media-"
CORS_ID = "indox-media-playback"
Progress = Callable[[int], None]


def _no_progress(n: int) -> None:
    pass


def s3_backend(state: IndoxMediaState, name: str) -> S3Backend:
    """The configured S3 or R2 backend ``name``.

    :raises ConfigurationError: it is not configured, or has no bucket rules.
    """
    backend = state.backends.get(name)
    if backend is None:
        raise ConfigurationError(f"backend {name!r} is not configured")
    if not isinstance(backend, S3Backend):
        raise ConfigurationError(
            f"backend {name!r} has no bucket rules (lifecycle and CORS are S3/R2 features); "
            "use `sweep` for expiry"
        )
    return backend


@dataclass
class Plan:
    """The difference between a bucket's rules and the ones it should have."""

    current: list[dict[str, Any]]
    desired: list[dict[str, Any]]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def merged(self) -> list[dict[str, Any]]:
        """The configuration to write: foreign rules as they are, then ours."""
        foreign = [
            r for r in self.current if not str(r.get("ID", "")).startswith(RULE_PREFIX)
        ]
        return foreign + self.desired


def _plan(current: list[dict[str, Any]], desired: list[dict[str, Any]]) -> Plan:
    plan = Plan(current, desired)
    ours = {r["ID"]: r for r in current if str(r.get("ID", "")).startswith(RULE_PREFIX)}
    wanted = {r["ID"]: r for r in desired}
    plan.added = sorted(set(wanted) - set(ours))
    plan.removed = sorted(set(ours) - set(wanted))
    plan.changed = sorted(i for i in set(ours) & set(wanted) if ours[i] != wanted[i])
    plan.kept = sorted(
        str(r.get("ID", "(no id)")) for r in current if r.get("ID") not in ours
    )
    return plan


def desired_lifecycle(classes: AssetClassTable) -> list[dict[str, Any]]:
    """One expiry rule per expiring prefix (none for permanent ones, never a
    bucket-wide expiry), and a bucket-wide rule that only aborts multipart
    uploads left incomplete for a day."""
    rules: list[dict[str, Any]] = [
        {
            "ID": f"{RULE_PREFIX}{c.name}",
            "Filter": {"Prefix": c.prefix},
            "Status": "Enabled",
            "Expiration": {"Days": c.retention_days},
        }
        for c in classes.values()
        if c.retention_days is not None
    ]
    rules.append(
        {
            "ID": f"{RULE_PREFIX}abort-incomplete-multipart",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    )
    return rules


def lifecycle(state: IndoxMediaState, backend: str, *, apply: bool = False) -> Plan:
    """Compare (and with ``apply``, write) the bucket's lifecycle rules. A write
    is a read-modify-write: rules the extension does not own are kept."""
    target = s3_backend(state, backend)
    plan = _plan(target.lifecycle_rules(), desired_lifecycle(state.settings.classes))
    if apply and not plan.in_sync:
        target.put_lifecycle_rules(plan.merged)
    return plan


def desired_cors(origins: Iterable[str]) -> list[dict[str, Any]]:
    """Browser playback from ``origins``: GET and HEAD, range requests."""
    origins = list(origins)
    if not origins:
        return []
    return [
        {
            "ID": CORS_ID,
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["Range"],
            "ExposeHeaders": [
                "Content-Length",
                "Content-Range",
                "Accept-Ranges",
                "ETag",
            ],
            "MaxAgeSeconds": 3600,
        }
    ]


def cors(state: IndoxMediaState, backend: str, *, apply: bool = False) -> Plan:
    """Compare (and with ``apply``, write) the bucket's CORS rules, keeping
    rules the extension does not own."""
    target = s3_backend(state, backend)
    plan = _plan(target.cors_rules(), desired_cors(state.settings.cors_origins))
    if apply and not plan.in_sync:
        target.put_cors_rules(plan.merged)
    return plan


def _parsed(classes: AssetClassTable, key: str) -> Any:
    try:
        return classes.parse(key)
    except InvalidKeyPartError:
        return None  # not an object this extension wrote: never touched


def sweep(
    state: IndoxMediaState,
    *,
    dry_run: bool = False,
    backends: Iterable[str] | None = None,
    progress: Progress = _no_progress,
) -> Counter[tuple[str, str]]:
    """Delete objects past their ``expires_at`` (from the key's date and the
    class's retention). Returns how many, by (backend, prefix)."""
    now = state.clock()
    classes = state.settings.classes
    counts: Counter[tuple[str, str]] = Counter()
    for name in backends or state.backends:
        backend = state.backends[name]
        for asset_class in classes.values():
            if asset_class.permanent:
                continue
            expired = []
            for info in backend.list_objects(asset_class.prefix):
                progress(1)
                parsed = _parsed(classes, info.key)
                if (
                    parsed is not None
                    and parsed.expires_at is not None
                    and parsed.expires_at <= now
                ):
                    expired.append(info.key)
            if expired and not dry_run:
                backend.delete_many(expired)
            counts[(name, asset_class.prefix)] += len(expired)
    return counts


@dataclass
class EraseResult:
    """What ``erase_user`` did."""

    deleted: Counter[tuple[str, str]]
    cancelled_jobs: int
    remaining: list[str]


def _user_keys(
    state: IndoxMediaState, backend: StorageBackend, user_id: str
) -> dict[str, list[str]]:
    return {
        c.prefix: [info.key for info in backend.list_objects(f"{c.prefix}{user_id}/")]
        for c in state.settings.classes.values()
    }


def erase_user(
    state: IndoxMediaState,
    user_id: str,
    *,
    dry_run: bool = False,
    progress: Progress = _no_progress,
) -> EraseResult:
    """Delete every object of ``user_id`` under every prefix (permanent ones
    included) on every configured backend, after cancelling the user's pending
    mirror jobs, then list again to verify nothing is left."""
    validate_user_id(user_id)
    cancelled = 0 if dry_run else state.mirror.cancel_user(user_id)
    deleted: Counter[tuple[str, str]] = Counter()
    for name, backend in state.backends.items():

        def listed(
            name: str = name, backend: StorageBackend = backend
        ) -> Iterator[str]:
            for asset_class in state.settings.classes.values():
                for info in backend.list_objects(f"{asset_class.prefix}{user_id}/"):
                    deleted[(name, asset_class.prefix)] += 1
                    progress(1)
                    yield info.key

        if dry_run:
            for _ in listed():
                pass
        else:
            # One stream over every prefix: full batches of 1,000 across them.
            backend.delete_many(listed())
    remaining = (
        []
        if dry_run
        else [
            key
            for backend in state.backends.values()
            for keys in _user_keys(state, backend, user_id).values()
            for key in keys
        ]
    )
    return EraseResult(deleted, cancelled, remaining)


def export_user(state: IndoxMediaState, user_id: str) -> dict[str, Any]:
    """Every asset of ``user_id`` (for an access request), with presigned URLs."""
    validate_user_id(user_id)
    assets = []
    for name, backend in state.backends.items():
        for keys in _user_keys(state, backend, user_id).values():
            for key in keys:
                parsed = _parsed(state.settings.classes, key)
                if parsed is None:
                    continue
                asset = Asset(parsed, name)
                info = backend.head(key)
                assets.append(
                    {
                        "backend": name,
                        "asset_id": state.asset_id(asset),
                        "asset_class": asset.asset_class,
                        "key": key,
                        "size_bytes": info.size if info else None,
                        "content_type": info.content_type if info else None,
                        "created_at": isoformat_z(asset.created_at),
                        "expires_at": isoformat_z(asset.expires_at),
                        "url": state.presign(asset, backend),
                    }
                )
    assets.sort(key=lambda a: (a["created_at"], a["key"]), reverse=True)
    return {
        "user_id": user_id,
        "generated_at": isoformat_z(state.clock()),
        "url_ttl_seconds": state.settings.presign_ttl,
        "assets": assets,
    }


def copy_object(
    source: StorageBackend, target: StorageBackend, key: str, *, check: bool = True
) -> bool:
    """Copy ``key`` (streaming; type and metadata kept) unless the target has
    it (``check=False``: the caller knows it has not). Returns whether it was
    copied."""
    if check and target.exists(key):
        return False
    try:
        stream, info = source.open_with_info(key)
    except ObjectNotFoundError:
        return False  # deleted since it was listed
    with stream:
        target.put(
            key,
            stream,
            content_type=info.content_type or "application/octet-stream",
            metadata=info.metadata,
        )
    return True


def backfill(
    state: IndoxMediaState,
    source: str,
    target: str,
    *,
    prefix: str = "",
    since: date | None = None,
    dry_run: bool = False,
    progress: Progress = _no_progress,
) -> Counter[str]:
    """Copy the objects the target lacks. Counts ``copied``, ``skipped``
    (present, or older than ``since``) and ``failed``; a re-run resumes."""
    for name in (source, target):
        if name not in state.backends:
            raise ConfigurationError(f"backend {name!r} is not configured")
    src, dst = state.backends[source], state.backends[target]
    counts: Counter[str] = Counter()
    # Both listings come in key order: walk them side by side (constant memory,
    # no request per key to learn what the target has).
    present = dst.list_objects(prefix)
    there = next(present, None)
    for info in src.list_objects(prefix):
        progress(1)
        while there is not None and there.key < info.key:
            there = next(present, None)
        if there is not None and there.key == info.key:
            counts["skipped"] += 1
            continue
        if since is not None:
            parsed = _parsed(state.settings.classes, info.key)
            if parsed is not None and parsed.created_at.date() < since:
                counts["skipped"] += 1
                continue
        if dry_run:
            counts["copied"] += 1
            continue
        try:
            counts[
                "copied" if copy_object(src, dst, info.key, check=False) else "skipped"
            ] += 1
        except (IndoxMediaError, OSError):
            counts["failed"] += 1
    return counts


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)


def parse_date(value: str) -> date:
    return datetime.strptime(value, "%Y-%m-%d").date()
