"""``GET /healthz`` (the process answers) and ``GET /readyz`` (Redis and the
primary bucket answer too, with each check's latency), for load balancers
and orchestrators. Not authenticated, and they say nothing secret: each check
gives ``ok``, its milliseconds and, when it failed, the error's class name."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify
from redis.exceptions import RedisError

from ..exceptions import IndoxMediaError
from ..state import current_state

KEY = "INDOX_MEDIA_HEALTH_PREFIX"


def _timed(check: Callable[[], object]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        check()
    except (IndoxMediaError, RedisError, OSError) as exc:
        result: dict[str, Any] = {"ok": False, "error": type(exc).__name__}
    else:
        result = {"ok": True}
    result["ms"] = round((time.perf_counter() - start) * 1000, 2)
    return result


def healthz() -> Response:
    return jsonify(status="ok")


def readyz() -> tuple[Response, int]:
    state = current_state()
    primary = state.catalog.primary
    checks: dict[str, Any] = {}
    if state.redis is not None:
        checks["redis"] = _timed(state.redis.ping)
    # One listing request, on any backend: the bucket is there and ours to read.
    checks["storage"] = {
        "backend": primary.name,
        **_timed(
            lambda: next(
                iter(primary.list_objects("indox-media-readyz/", page_size=1)), None
            )
        ),
    }
    ready = all(check["ok"] for check in checks.values())
    body = jsonify(status="ready" if ready else "unavailable", checks=checks)
    return body, 200 if ready else 503


def register(app: Flask, prefix: str | None) -> None:
    """Add both routes under ``prefix`` (``""``: at the root; ``None``: none)."""
    if prefix is None:
        return
    app.add_url_rule(f"{prefix}/healthz", "indox_media_healthz", healthz)
    app.add_url_rule(f"{prefix}/readyz", "indox_media_readyz", readyz)
