"""A caller's audio as Resemble takes it: an ``audio_url`` or ``asset_id``
turned into a URL (own assets presigned afresh) or into a file streamed in a
multipart body."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import requests

from ..assets import ID_PREFIX, Asset
from ..exceptions import InvalidKeyPartError, InvalidTokenError, SourceRejectedError
from ..state import current_state
from ..storage.base import StorageBackend
from .blueprint import user_id


def own_asset_input(value: str) -> tuple[Asset, StorageBackend] | None:
    """The caller's stored asset that ``value`` (an ``asset_id`` or one of the
    gateway's own asset URLs) names, and the backend holding it; ``None`` for
    any other URL.

    :raises SourceRejectedError: it names no stored asset of the caller.
    """
    catalog = current_state().catalog
    asset: Asset | None = None
    if value.startswith(ID_PREFIX):
        try:
            asset = catalog.resolve(value, user_id())
        except InvalidTokenError:
            raise SourceRejectedError("no such asset_id") from None
    else:
        for name, backend in catalog.backends.items():
            key = backend.key_from_url(value)
            if key is None:
                continue
            try:
                asset = catalog.from_key(name, key)
            except InvalidKeyPartError:
                raise SourceRejectedError("not an asset URL") from None
            if asset.user_id != user_id():
                raise SourceRejectedError("not an asset of the caller")
            break
    if asset is None:
        return None
    found = catalog.locate(asset)
    if found is None:
        raise SourceRejectedError("the asset is not stored (yet)")
    return asset, found[0]


def input_url(value: str) -> str:
    """What to send Resemble as a media URL: a fresh presigned URL for the
    caller's own asset (``asset_id`` or gateway URL), else ``value``."""
    own = own_asset_input(value)
    return value if own is None else current_state().catalog.presign(*own)


def input_audio(audio_url: str) -> tuple[str, Any, str]:
    """The bytes behind a caller's ``audio_url`` (or ``asset_id``), to send to
    Resemble as a file: ``(file name, stream, content type)``. Own assets are
    read from storage; other URLs fetched from an allowed source.

    :raises SourceRejectedError: neither.
    """
    own = own_asset_input(audio_url)
    if own is not None:
        asset, backend = own
        stream, info = backend.open_with_info(asset.key)
        content_type = info.content_type or "application/octet-stream"
        return asset.key.rsplit("/", 1)[1], stream, content_type
    try:
        response = current_state().fetcher.open(audio_url)
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

    @classmethod
    def for_audio(
        cls, field: str, audio_url: str, form: dict[str, Any]
    ) -> MultipartBody:
        """The caller's audio (own asset or allowed URL) as Resemble's file ``field``."""
        name, stream, content_type = input_audio(audio_url)
        return cls(form, field, name, stream, content_type)

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
        try:
            while chunk := stream.read(self._CHUNK):
                yield chunk
        finally:
            stream.close()
        yield f"\r\n--{self.boundary}--\r\n".encode()

    def close(self) -> None:
        self._file[2].close()
