"""RQ job functions, and nothing else. Module-level, taking plain data only
(keys, names, URLs); the extension enqueues them by dotted path, so nothing
imports this module to name a job.

Each runs inside the host app's context: the one the worker pushed
(``flask indox-media worker``), or else the app named by ``FLASK_APP`` (for a
plain ``rq worker``), loaded once per process. With neither, the job fails at
once with :class:`~flask_indox_media.NoAppError`, and is not retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import has_app_context

from .appload import worker_app
from .mirror import download, forward
from .mirror import replicate as replication
from .ops.users import erase_user as erase
from .state import IndoxMediaState, current_state


@contextmanager
def app_state() -> Iterator[IndoxMediaState]:
    """The extension state of the job's app, inside its app context."""
    if has_app_context():
        yield current_state()
        return
    with worker_app().app_context():
        yield current_state()


def mirror_url(
    backend: str, key: str, source_url: str, claim: str | None = None
) -> dict[str, Any]:
    """Download ``source_url`` into ``key`` on ``backend`` (no-op if present),
    then mark its ``claim`` mirrored."""
    with app_state() as state:
        return download.mirror_url(state, backend, key, source_url, claim)


def store_audio(
    backend: str, key: str, audio: str, content_type: str
) -> dict[str, Any]:
    """Store inline audio (base64 ``audio``) the request could not."""
    with app_state() as state:
        return download.store_audio(state, backend, key, audio, content_type)


def forward_callback(url: str, body: str) -> int:
    """POST a rewritten callback payload to the caller's own callback URL."""
    with app_state() as state:
        return forward.forward(state, url, body)


def replicate(backend: str, key: str) -> list[str]:
    """Copy ``key`` to the other write backends that lack it (dual-write)."""
    with app_state() as state:
        return replication.replicate(state, backend, key)


def erase_user(user_id: str) -> dict[str, Any]:
    """Erase every object of ``user_id`` (for an account-deletion flow)."""
    with app_state() as state:
        result = erase(state, user_id)
        return {
            "deleted": sum(result.deleted.values()),
            "cancelled_jobs": result.cancelled_jobs,
            "forgotten_claims": result.forgotten_claims,
            "remaining": len(result.remaining),
        }
