"""Self-healing: an asset seen before whose claim exists but whose object and
live job are both gone (a Redis restarted without persistence, a job deleted,
a transient failure outlasting every retry) is mirrored again on its next
poll, so one lost job is never permanent.

Cheap by construction: only claims that are not new and not yet marked
mirrored are checked, their jobs in one Redis round trip, and the storage is
asked (one HEAD per asset) only for those whose job is gone or finished.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..assets import FAILED, MIRRORED, PENDING
from ..exceptions import IndoxMediaError
from ..queue import FAILED_PERMANENTLY
from .claims import Claimed
from .download import job_id

if TYPE_CHECKING:
    from ..state import IndoxMediaState

logger = logging.getLogger("flask_indox_media")

#: :func:`check`'s verdict on an asset to mirror again.
LOST = "lost"
#: Job states that will still store the object.
_LIVE = frozenset({"queued", "started", "scheduled", "deferred", "created"})


def check(state: IndoxMediaState, seen: Sequence[Claimed]) -> list[str]:
    """For each claimed asset seen before (not marked mirrored): ``pending``
    (its job will store it), ``mirrored`` (the object is there: the claim is
    marked, so the next poll checks nothing), ``failed`` (permanently) or
    :data:`LOST` (mirror it again; its dead job is discarded first).

    :raises QueueError: Redis failed.
    """
    states = state.queue.job_states([job_id(c.asset) for c in seen])
    verdicts = []
    for claimed, job_state in zip(seen, states, strict=True):
        if job_state in _LIVE:
            verdicts.append(PENDING)
        elif job_state == FAILED_PERMANENTLY:
            verdicts.append(FAILED)
        elif job_state == "failed":
            verdicts.append(LOST)  # a transient failure outlasted its retries
        else:  # no job, or a finished one: is the object there?
            verdicts.append(_object_there(state, claimed))
    lost = [job_id(c.asset) for c, v in zip(seen, verdicts, strict=True) if v == LOST]
    if lost:
        logger.warning("indox-media: %d mirror(s) lost, scheduling again", len(lost))
        state.queue.discard(lost)
    return verdicts


def _object_there(state: IndoxMediaState, claimed: Claimed) -> str:
    asset = claimed.asset
    try:
        there = state.catalog.backends[asset.backend].exists(asset.key)
    except IndoxMediaError:
        # Storage unreachable: mirroring again is harmless (the write is
        # conditional) and the job retries until the storage is back.
        return LOST
    if not there:
        return LOST
    if claimed.name is not None:
        try:
            state.claims.mark_mirrored(claimed.name, asset)
        except IndoxMediaError:
            pass  # only a saving for the next poll
    return MIRRORED
