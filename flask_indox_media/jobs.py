"""RQ job functions. Module-level, taking plain data only (keys, names, URLs),
so a worker imports them by dotted path.

Each runs inside the host app's context: the one the worker pushed
(``flask indox-media worker``), or else the app named by ``FLASK_APP`` (for a
plain ``rq worker``), loaded once per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, has_app_context

from .extension import EXTENSION_KEY, IndoxMediaState

_loaded: Flask | None = None


def _load_app() -> Flask:
    global _loaded
    if _loaded is None:
        from flask.cli import ScriptInfo

        _loaded = ScriptInfo().load_app()
    return _loaded


@contextmanager
def app_state() -> Iterator[IndoxMediaState]:
    """The extension state of the job's app, inside its app context."""
    if has_app_context():
        yield current_app.extensions[EXTENSION_KEY]
        return
    app = _load_app()
    with app.app_context():
        yield app.extensions[EXTENSION_KEY]


def mirror_url(backend: str, key: str, source_url: str) -> dict[str, Any]:
    """Download ``source_url`` into ``key`` on ``backend`` (no-op if present)."""
    with app_state() as state:
        return state.mirror.mirror_url(backend=backend, key=key, source_url=source_url)


def forward_callback(url: str, body: str) -> int:
    """POST a rewritten callback payload to the caller's own callback URL."""
    from .callbacks import forward

    with app_state() as state:
        return forward(state, url, body)


def replicate(backend: str, key: str) -> list[str]:
    """Copy ``key`` to the other write backends that lack it (dual-write)."""
    with app_state() as state:
        return state.mirror.replicate(backend, key)


def erase_user(user_id: str) -> dict[str, Any]:
    """Erase every object of ``user_id`` (for an account-deletion flow)."""
    from .ops import erase_user as erase

    with app_state() as state:
        result = erase(state, user_id)
        return {
            "deleted": sum(result.deleted.values()),
            "cancelled_jobs": result.cancelled_jobs,
            "remaining": len(result.remaining),
        }
