"""The proxy's moving parts: relaying upstream answers (rewritten when they
carry audio), and turning a caller's ``audio_url`` or ``asset_id`` into what
Resemble takes (a URL, or a file streamed in a multipart body)."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any, NoReturn

import requests
from flask import Response, current_app, g, request
from flask_smorest import abort

from .assets import Asset
from .exceptions import InvalidKeyPartError, SourceRejectedError, UpstreamError
from .extension import EXTENSION_KEY, IndoxMediaState
from .hooks import rewrite
from .storage.base import StorageBackend
from .upstream import FORWARDED_HEADERS

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


def state() -> IndoxMediaState:
    result: IndoxMediaState = current_app.extensions[EXTENSION_KEY]
    return result


def user_id() -> str:
    """The authenticated caller (set by the blueprint's ``before_request``)."""
    return str(g._indox_media_user)


def error(status: int, message: str, **extra: Any) -> Response:
    """A JSON error in flask-smorest's shape (``code``, ``status``, ``message``)."""
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        **extra,
    }
    return Response(json.dumps(body), status=status, content_type="application/json")


class SizedStream:
    """A request body stream that tells ``requests`` its length, so it is sent
    with ``Content-Length`` rather than chunked."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream = stream
        self.len = length or 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        return data


def fail(status: int, message: str, **extra: Any) -> NoReturn:
    """Abort with flask-smorest's JSON error (typed for the checker)."""
    abort(status, message=message, **extra)
    raise AssertionError("abort returned")  # pragma: no cover


def forwarded_headers() -> dict[str, str]:
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
        rewritten = rewrite(state(), body, kind, user_id(), route_id)
    except Exception:
        # The hook never breaks the proxied response: the caller still gets
        # Resemble's answer, with its own URLs intact.
        logger.exception("indox-media: rewriting a %s response failed", kind)
        rewritten = None
    if rewritten is not None:
        headers.pop("Content-Length", None)
        body = rewritten
    return Response(body, status=upstream.status_code, headers=headers)


def own_asset_input(value: str) -> tuple[Asset, StorageBackend] | None:
    """The caller's stored asset that ``value`` (an ``asset_id`` or one of the
    gateway's own asset URLs) names, and the backend holding it; ``None`` for
    any other URL.

    :raises SourceRejectedError: it names no stored asset of the caller.
    """
    st = state()
    asset: Asset | None = None
    if value.startswith("ast_"):
        try:
            asset = st.resolve(value, user_id())
        except InvalidKeyPartError:
            raise SourceRejectedError("no such asset_id") from None
    else:
        for name, backend in st.backends.items():
            key = backend.key_from_url(value)
            if key is None:
                continue
            try:
                parsed = st.settings.classes.parse(key)
            except InvalidKeyPartError:
                raise SourceRejectedError("not an asset URL") from None
            if parsed.user_id != user_id():
                raise SourceRejectedError("not an asset of the caller")
            asset = Asset(parsed, name)
            break
    if asset is None:
        return None
    found = st.locate(asset)
    if found is None:
        raise SourceRejectedError("the asset is not stored (yet)")
    return asset, found[0]


def input_url(value: str) -> str:
    """What to send Resemble as a media URL: a fresh presigned URL for the
    caller's own asset (``asset_id`` or gateway URL), else ``value``."""
    own = own_asset_input(value)
    if own is None:
        return value
    return state().presign(*own)


def input_audio(audio_url: str) -> tuple[str, Any, str]:
    """The bytes behind a caller's ``audio_url`` (or ``asset_id``), to send to
    Resemble as a file: ``(file name, stream, content type)``. Own assets are
    read from storage; other URLs fetched from an allowed source.

    :raises SourceRejectedError: neither.
    """
    own = own_asset_input(audio_url)
    if own is not None:
        asset, backend = own
        info = backend.head(asset.key)
        content_type = (
            info.content_type if info else None
        ) or "application/octet-stream"
        return asset.key.rsplit("/", 1)[1], backend.open(asset.key), content_type
    fetcher = state().mirror.fetcher
    try:
        response = fetcher.open(audio_url)
    except requests.RequestException as exc:
        raise SourceRejectedError("audio_url could not be fetched") from exc
    if response.status_code != 200:
        response.close()
        raise SourceRejectedError(f"audio_url answered {response.status_code}")
    response.raw.decode_content = True
    name = audio_url.split("?", 1)[0].rstrip("/").rpartition("/")[2] or "audio"
    return (
        name,
        response.raw,
        response.headers.get("Content-Type", "application/octet-stream"),
    )


class MultipartBody:
    """A ``multipart/form-data`` body of form fields and one file, generated as
    it is sent: the file is streamed, never held whole in memory."""

    _CHUNK = 256 * 1024

    def __init__(
        self,
        fields: dict[str, Any],
        file_field: str,
        name: str,
        stream: Any,
        content_type: str,
    ) -> None:
        self.boundary = "indox-media-" + secrets.token_hex(12)
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self._fields = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()
        }
        self._file = (
            file_field,
            name.replace('"', "").replace("\r", "").replace("\n", ""),
            stream,
            content_type,
        )

    def __iter__(self) -> Iterator[bytes]:
        dash = f"--{self.boundary}\r\n".encode()
        for key, value in self._fields.items():
            yield (
                dash
                + f'Content-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            )
        field, name, stream, content_type = self._file
        yield (
            dash
            + (
                f'Content-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
        )
        while chunk := stream.read(self._CHUNK):
            yield chunk
        yield f"\r\n--{self.boundary}--\r\n".encode()

    def close(self) -> None:
        self._file[2].close()
