"""Calling Resemble and relaying its answer: rewritten when it carries audio,
byte-for-byte (large bodies streamed) otherwise."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import requests
from flask import Response, request

from ..exceptions import UpstreamError
from ..mirror.rewrite import rewrite
from ..state import current_state
from ..upstream import FORWARDED_HEADERS
from .blueprint import user_id
from .inputs import MultipartBody

logger = logging.getLogger("flask_indox_media")

_CHUNK = 64 * 1024
_PASSED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
    "Retry-After",
)
#: JSON bodies larger than this are streamed through without rewriting.
MAX_REWRITE_BYTES = 64 * 1024 * 1024


class SizedStream:
    """A request body stream that tells ``requests`` its length, so it is sent
    with ``Content-Length`` rather than chunked."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream = stream
        self.len = length or 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        return data


def forwarded_headers() -> dict[str, str]:
    """The caller's headers that Resemble gets (never its Authorization)."""
    return {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}


def _stream(upstream: requests.Response) -> Iterator[bytes]:
    try:
        yield from upstream.iter_content(_CHUNK)
    finally:
        upstream.close()


def relay(
    upstream: requests.Response, kind: str | None, *, route_id: str | None = None
) -> Response:
    """The gateway's answer to an upstream response.

    A successful JSON answer of an audio-bearing ``kind`` is rewritten; any
    other answer (4xx included) passes through byte-for-byte, large bodies
    streamed. A failure of the rewrite is logged and the original goes out.
    """
    headers = {h: upstream.headers[h] for h in _PASSED_HEADERS if h in upstream.headers}
    if upstream.headers.get("Content-Encoding"):
        # requests hands over the decoded body: the upstream length is not its.
        headers.pop("Content-Length", None)
    content_type = upstream.headers.get("Content-Type", "")
    length = upstream.headers.get("Content-Length")
    small = length is None or (length.isdigit() and int(length) <= MAX_REWRITE_BYTES)
    if (
        kind is None
        or "json" not in content_type
        or upstream.status_code >= 300
        or not small
    ):
        return Response(_stream(upstream), status=upstream.status_code, headers=headers)
    try:
        body = upstream.content
    except requests.RequestException as exc:
        raise UpstreamError("Resemble's answer was cut short", status=502) from exc
    finally:
        upstream.close()
    try:
        rewritten = rewrite(current_state(), body, kind, user_id(), route_id)
    except Exception:
        # The hook never breaks the proxied response: the caller still gets
        # Resemble's answer, with its own URLs intact.
        logger.exception("indox-media: rewriting a %s response failed", kind)
        rewritten = None
    if rewritten is not None:
        headers.pop("Content-Length", None)
        body = rewritten
    return Response(body, status=upstream.status_code, headers=headers)


def call(
    kind: str | None,
    method: str,
    path: str,
    *,
    route_id: str | None = None,
    body: MultipartBody | None = None,
    **kwargs: Any,
) -> Response:
    """Call Resemble's app API at ``v2/<path>`` and relay its answer.

    :param body: a file to send as a multipart body (streamed, then closed).
    """
    upstream = current_state().upstream
    headers = {**forwarded_headers(), **kwargs.pop("headers", {})}
    if body is not None:
        headers["Content-Type"] = body.content_type
        kwargs["data"] = iter(body)
    try:
        response = upstream.request(
            method, upstream.v2_url(path), headers=headers, **kwargs
        )
    finally:
        if body is not None:
            body.close()
    return relay(response, kind, route_id=route_id)
