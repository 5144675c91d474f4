"""Resemble's native API, passed through for the official SDK: ``/v2/<path>``
(``Resemble.base_url("<gateway>/api/v1/resemble/")``) and direct synthesis
(``Resemble.direct_syn_server_url("<gateway>/api/v1/resemble/synthesize")``)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..endpoints import native_kind
from ..state import current_state
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


@bp.route("/v2/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.doc(
    **passthrough_doc(
        "Resemble's own API, for the official SDK",
        "Resemble's /api/v2/<path>: query, body and Prefer as sent; audio in the "
        "answer is mirrored by the rules of its path.",
    )
)
def native(path: str) -> Response:
    """Resemble's own ``/api/v2/<path>``."""
    kind, route_id = native_kind(path)
    headers = forwarded_headers()
    kw: dict[str, Any] = {"params": list(request.args.items(multi=True))}
    if request.method in ("POST", "PUT", "PATCH"):
        if request.is_json and kind in ("clip", "batch"):
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                substitute_callback(body, "clip_callback")
                kw["json"] = body
        if "json" not in kw:
            # Streamed as it arrives (multipart included), with its length.
            kw["data"] = SizedStream(request.stream, request.content_length)
            headers["Content-Type"] = request.content_type or "application/octet-stream"
    upstream = current_state().upstream
    response = upstream.request(
        request.method, upstream.v2_url(path), headers=headers, **kw
    )
    return relay(response, kind, route_id=route_id)
