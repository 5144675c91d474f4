"""Resemble's native API, passed through for the official SDK: ``/v2/<path>``
(``Resemble.base_url("<gateway>/api/v1/resemble/")``) and direct synthesis
(``Resemble.direct_syn_server_url("<gateway>/api/v1/resemble/synthesize")``)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from ..endpoints import NATIVE_PREFIXES, native_kind
from ..exceptions import RequestError
from ..state import current_state
from ..upstream import path_segments
from .blueprint import bp
from .callbacks import substitute_callback
from .openapi import passthrough_doc
from .relay import SizedStream, forwarded_headers, relay


@bp.route("/synthesize", methods=["POST"])
@bp.doc(
    **passthrough_doc(
        "Direct synthesis, for the official SDK",
        "Resemble's direct synthesis body as the SDK's clips.create_direct sends "
        "it; the inline audio is mirrored (class tts).",
    )
)
def direct_synthesis() -> Response:
    """Resemble's direct synthesis body, as the SDK's ``clips.create_direct`` sends."""
    upstream = current_state().upstream
    response = upstream.request(
        "POST",
        upstream.synth_url + "synthesize",
        data=request.get_data(),
        headers={"Content-Type": request.content_type or "application/json"},
        synth=True,
    )
    return relay(response, "tts")


#: An encoded slash or backslash: the server decodes it before routing, so it
#: is visible only in the raw request target.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)


def checked_path(path: str) -> str:
    """``path``, when it is a plain path under one of Resemble's top-level
    :data:`~flask_indox_media.endpoints.NATIVE_PREFIXES`.

    :raises RequestError: 400 for a path that could reach another route of
        the upstream (dot or empty segments, encoded separators...), 404 for
        one outside the native API.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if _ENCODED_SEPARATOR.search(raw.partition("?")[0]):
        raise RequestError(
            400,
            "the path is not a plain Resemble API path",
            errors={"path": ["encoded '/' or '\\' in the path"]},
        )
    segments = path_segments(path)
    if segments[0] not in NATIVE_PREFIXES:
        raise RequestError(404, "not a Resemble API path the gateway passes through")
    return path


def _body(kind: str | None, headers: dict[str, str]) -> dict[str, Any]:
    """The request's body, as ``requests`` takes it: a clip's or a batch's
    JSON with its callback substituted, else the bytes as they came."""
    if not request.is_json:
        # Streamed as it arrives (multipart included), with its length.
        headers["Content-Type"] = request.content_type or "application/octet-stream"
        return {"data": SizedStream(request.stream, request.content_length)}
    body = request.get_json(silent=True) if kind in ("clip", "batch") else None
    if isinstance(body, dict):
        substitute_callback(body, "clip_callback")
        return {"json": body}
    headers["Content-Type"] = request.content_type or "application/json"
    return {"data": request.get_data()}  # already read, and checked: limits.py


@bp.route(
    "/v2/<path:path>",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    merge_slashes=False,  # an empty segment is refused, not redirected
)
@bp.doc(
    **passthrough_doc(
        "Resemble's own API, for the official SDK",
        "Resemble's /api/v2/<path>: query, body and Prefer as sent; audio in the "
        "answer is mirrored by the rules of its path.",
    )
)
def native(path: str) -> Response:
    """Resemble's own ``/api/v2/<path>``."""
    path = checked_path(path)
    kind, route_id = native_kind(path)
    headers = forwarded_headers()
    kw: dict[str, Any] = {"params": list(request.args.items(multi=True))}
    if request.method in ("POST", "PUT", "PATCH"):
        kw.update(_body(kind, headers))
    upstream = current_state().upstream
    response = upstream.request(
        request.method, upstream.v2_url(path), headers=headers, **kw
    )
    return relay(response, kind, route_id=route_id)
