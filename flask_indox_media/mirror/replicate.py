"""Dual-write: copying a freshly written object to the other write backends
(``INDOX_MEDIA_MIRROR_BACKENDS``), in a job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..assets import Asset
from ..storage.base import copy_object

if TYPE_CHECKING:
    from ..state import IndoxMediaState

#: The job function, enqueued by dotted path.
REPLICATE_JOB = "flask_indox_media.jobs.replicate"


def replicate_later(state: IndoxMediaState, asset: Asset) -> None:
    """Schedule the copies of ``asset`` to the other write backends (none when
    there are no mirror backends)."""
    if not state.settings.mirror_backends:
        return
    state.queue.enqueue(
        REPLICATE_JOB,
        {"backend": asset.backend, "key": asset.key},
        job_id="indox-replicate-" + asset.digest,
        description=f"replicate {asset.key}",
    )


def replicate(state: IndoxMediaState, backend: str, key: str) -> list[str]:
    """Copy ``key`` from ``backend`` to every other write backend that lacks
    it; returns the backends it was copied to."""
    backends = state.catalog.backends
    targets = [n for n in state.settings.write_backends if n != backend]
    return [n for n in targets if copy_object(backends[backend], backends[n], key)]
