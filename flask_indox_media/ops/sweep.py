"""Deleting objects past their ``expires_at``, for backends without lifecycle
rules and as an audit of those with them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..exceptions import InvalidKeyPartError
from . import Progress, no_progress

if TYPE_CHECKING:
    from ..state import IndoxMediaState


def sweep(
    state: IndoxMediaState,
    *,
    dry_run: bool = False,
    backends: Iterable[str] | None = None,
    progress: Progress = no_progress,
) -> Counter[tuple[str, str]]:
    """Delete objects past their ``expires_at`` (from the key's date and the
    class's retention). Returns how many, by (backend, prefix)."""
    now = state.catalog.clock()
    catalog = state.catalog
    counts: Counter[tuple[str, str]] = Counter()
    for name in backends or catalog.backends:
        backend = catalog.backends[name]
        for asset_class in catalog.classes.values():
            if asset_class.permanent:
                continue
            expired = []
            for info in backend.list_objects(asset_class.prefix):
                progress(1)
                try:
                    expires_at = catalog.classes.parse(info.key).expires_at
                except InvalidKeyPartError:
                    continue  # not an object this extension wrote: never touched
                if expires_at is not None and expires_at <= now:
                    expired.append(info.key)
            if expired and not dry_run:
                backend.delete_many(expired)
            counts[(name, asset_class.prefix)] += len(expired)
    return counts
