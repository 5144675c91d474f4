"""The callback route and Resemble's native ``/v2/`` API, passed through for
the official SDK. Registered on the gateway blueprint."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, g, request

from . import callbacks, gateway
from .blueprint import bp
from .gateway import error, relay, state


@bp.route("/callbacks/<token>", methods=["POST"])
def callback(token: str) -> Response:
    """Resemble's callback for an async job created through the gateway."""
    read = callbacks.read_token(token)
    if read is None:
        return error(404, "unknown callback")
    user, original, kind = read
    g._indox_media_user = user
    try:
        payload = request.get_json(force=True)
    except Exception:
        return error(400, "the callback body is not JSON")
    kind = "batch" if isinstance(payload, dict) and "clips" in payload else kind
    body = json.dumps(payload).encode()
    forwarded = callbacks.deliver(state(), body, kind, user, original)
    return Response(forwarded, status=200, content_type="application/json")


#: Native v2 paths -> the response kind that finds their audio.
NATIVE_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"projects/[^/]+/clips(/[^/]+)?/?$", "clip"),
        (r"projects/[^/]+/batch(/[^/]+)?/?$", "batch"),
        (r"voices/[^/]+/recordings(/[^/]+)?/?$", "recording"),
        (r"voices(/[^/]+)?/?$", "voice"),
        (r"voice-design/?$", "voice_design"),
        (r"speech-to-text(/[^/]+)?/?$", "stt"),
        (r"audio_enhancements(/[^/]+)?/?$", "enhance"),
        (r"edit(/[^/]+)?/?$", "edit"),
        (r"watermark/apply(/[^/]+/result)?/?$", "watermark"),
    )
)


def native_kind(path: str) -> tuple[str | None, str | None]:
    """The response kind of a native v2 path, and the id it names (if any)."""
    for pattern, kind in NATIVE_KINDS:
        match = pattern.match(path)
        if match:
            tail = match.group(1)
            return kind, tail.strip("/").split("/")[0] if tail else None
    return None, None


@bp.route("/v2/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def native(path: str) -> Response:
    """Resemble's own ``/api/v2/<path>``, for the official SDK
    (``Resemble.base_url("<gateway>/api/v1/resemble/")``)."""
    kind, route_id = native_kind(path)
    headers = gateway.forwarded_headers()
    kw: dict[str, Any] = {"params": list(request.args.items(multi=True))}
    if request.method in ("POST", "PUT", "PATCH"):
        if request.is_json and kind in ("clip", "batch"):
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                callbacks.substitute(body, "clip_callback")
                kw["json"] = body
        if "json" not in kw:
            # Streamed as it arrives (multipart included), with its length.
            kw["data"] = gateway.SizedStream(request.stream, request.content_length)
            headers["Content-Type"] = request.content_type or "application/octet-stream"
    upstream = state().upstream
    response = upstream.request(
        request.method, upstream.v2_url(path), headers=headers, **kw
    )
    return relay(response, kind, route_id=route_id)
