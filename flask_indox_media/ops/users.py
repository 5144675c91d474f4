"""A user's data: erasure (GDPR) and export (an access request)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidKeyPartError
from ..keys import isoformat_z, validate_user_id
from . import Progress, no_progress

if TYPE_CHECKING:
    from ..state import IndoxMediaState


@dataclass
class EraseResult:
    """What :func:`erase_user` did."""

    deleted: Counter[tuple[str, str]]
    cancelled_jobs: int
    remaining: list[str]
    #: Claims deleted, so re-polled upstream assets get new keys and mirrors.
    forgotten_claims: int = 0


def _owned_by(user_id: str, state: IndoxMediaState) -> Any:
    classes = state.catalog.classes

    def match(kwargs: Mapping[str, Any]) -> bool:
        try:
            return classes.parse(str(kwargs.get("key", ""))).user_id == user_id
        except InvalidKeyPartError:
            return False

    return match


def erase_user(
    state: IndoxMediaState,
    user_id: str,
    *,
    dry_run: bool = False,
    progress: Progress = no_progress,
) -> EraseResult:
    """Delete every object of ``user_id`` under every prefix (permanent ones
    included) on every configured backend, after cancelling the user's pending
    mirror jobs and deleting the user's claims, then list again to verify
    nothing is left.

    Safe to run again after a failure: Redis work comes first (nothing is
    deleted if Redis is down), then the objects.

    :raises InvalidKeyPartError: ``user_id`` is unsafe.
    :raises QueueError: Redis failed (nothing was deleted).
    :raises StorageError: a backend failed (run it again).
    """
    validate_user_id(user_id)
    catalog = state.catalog
    cancelled = forgotten = 0
    if not dry_run:
        cancelled = state.queue.cancel_jobs(_owned_by(user_id, state))
        # Without this a re-poll of an erased clip would get its old key back,
        # and self-healing would mirror it there again.
        forgotten = state.claims.forget(user_id)
    deleted: Counter[tuple[str, str]] = Counter()
    for name, backend in catalog.backends.items():

        def listed(name: str = name) -> Iterator[str]:
            for found in catalog.iter_user_assets(user_id, backends=[name]):
                deleted[(name, found.asset_class.prefix)] += 1
                progress(1)
                yield found.info.key

        if dry_run:
            for _ in listed():
                pass
        else:
            # One stream over every prefix: full batches of 1,000 across them.
            backend.delete_many(listed())
    remaining = (
        [] if dry_run else [f.info.key for f in catalog.iter_user_assets(user_id)]
    )
    return EraseResult(deleted, cancelled, remaining, forgotten)


def export_user(state: IndoxMediaState, user_id: str) -> dict[str, Any]:
    """Every asset of ``user_id`` (for an access request), with presigned URLs."""
    validate_user_id(user_id)
    catalog = state.catalog
    assets = []
    for found in catalog.iter_user_assets(user_id):
        if found.asset is None:
            continue
        backend = catalog.backends[found.backend]
        info = backend.head(found.info.key) or found.info
        described = catalog.describe_stored(
            found.asset, backend, info, backend=found.backend
        )
        described["url"] = described.pop("audio_url")
        assets.append(described)
    assets.sort(key=lambda a: (a["created_at"], a["key"]), reverse=True)
    return {
        "user_id": user_id,
        "generated_at": isoformat_z(state.catalog.clock()),
        "url_ttl_seconds": state.settings.presign_ttl,
        "assets": assets,
    }
