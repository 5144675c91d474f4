"""Serving the local backend's signed, expiring URLs (``Range`` gives 206)."""

from __future__ import annotations

from flask import Blueprint, has_request_context, request, send_file
from flask.typing import ResponseReturnValue

from ..exceptions import IndoxMediaError, InvalidKeyPartError, RequestError
from ..state import current_state
from ..storage.local import LocalBackend
from .cors import add_cors_headers
from .errors import handle_error

bp = Blueprint("indox_media_local", __name__)
bp.register_error_handler(IndoxMediaError, handle_error)
bp.after_request(add_cors_headers)


def request_base_url() -> str | None:
    """The current request's scheme and host: the base of local URLs made
    during a request when ``INDOX_MEDIA_PUBLIC_URL`` is not set."""
    return request.host_url.rstrip("/") if has_request_context() else None


@bp.get("/<path:key>")
def serve(key: str) -> ResponseReturnValue:
    state = current_state()
    backend = state.catalog.backends.get("local")
    if not isinstance(backend, LocalBackend):
        raise RequestError(404, "no local backend")
    try:
        valid = backend.check_signature(key, request.args, state.catalog.clock())
    except InvalidKeyPartError:
        valid = False
    if not valid:
        raise RequestError(403, "URL signature is invalid or expired")
    info = backend.head(key)
    if info is None:
        raise RequestError(404, "no such object")
    content_type = request.args.get("response-content-type") or info.content_type
    response = send_file(
        backend.file_path(key),
        mimetype=content_type or "application/octet-stream",
        conditional=True,
        etag=False,
        last_modified=info.last_modified,
        max_age=0,
    )
    # As S3 does: a presigned URL's disposition wins over the stored one.
    disposition = (
        request.args.get("response-content-disposition") or info.content_disposition
    )
    if disposition:
        response.headers["Content-Disposition"] = disposition
    else:
        # send_file names the file after the key's last part; S3 sends none.
        response.headers.pop("Content-Disposition", None)
    if info.cache_control:
        # Replaces send_file's max_age=0 answer; its Expires would contradict.
        response.headers["Cache-Control"] = info.cache_control
        response.headers.pop("Expires", None)
    # The bytes are the caller's: a browser must not sniff them into HTML
    # (a WAV header followed by a page), nor run anything they carry.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
