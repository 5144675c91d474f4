"""Copying the objects one backend lacks from another (after a rollback, or
before switching)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError, IndoxMediaError, InvalidKeyPartError
from ..storage.base import copy_object
from . import Progress, no_progress

if TYPE_CHECKING:
    from ..state import IndoxMediaState


def _older(state: IndoxMediaState, key: str, since: date | None) -> bool:
    if since is None:
        return False
    try:
        return state.catalog.classes.parse(key).created_at.date() < since
    except InvalidKeyPartError:
        return False  # not ours: its age is unknown, so it is copied


def backfill(
    state: IndoxMediaState,
    source: str,
    target: str,
    *,
    prefix: str = "",
    since: date | None = None,
    dry_run: bool = False,
    progress: Progress = no_progress,
) -> Counter[str]:
    """Copy the objects the target lacks. Counts ``copied``, ``skipped``
    (present, or older than ``since``) and ``failed``; a re-run resumes."""
    backends = state.catalog.backends
    for name in (source, target):
        if name not in backends:
            raise ConfigurationError(f"backend {name!r} is not configured")
    src, dst = backends[source], backends[target]
    counts: Counter[str] = Counter()
    # Both listings come in key order: walk them side by side (constant memory,
    # no request per key to learn what the target has).
    present = dst.list_objects(prefix)
    there = next(present, None)
    for info in src.list_objects(prefix):
        progress(1)
        while there is not None and there.key < info.key:
            there = next(present, None)
        if (there is not None and there.key == info.key) or _older(
            state, info.key, since
        ):
            counts["skipped"] += 1
            continue
        if dry_run:
            counts["copied"] += 1
            continue
        try:
            copied = copy_object(src, dst, info.key, check=False)
            counts["copied" if copied else "skipped"] += 1
        except (IndoxMediaError, OSError):
            counts["failed"] += 1
    return counts
