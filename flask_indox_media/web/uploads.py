"""``POST /uploads``: a caller's file, its type sniffed, its size limit
enforced while it streams in, stored under the class its ``purpose`` names."""

from __future__ import annotations

import unicodedata
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, cast

from flask import request
from flask_smorest.error_handler import ErrorSchema
from werkzeug.exceptions import RequestEntityTooLarge

from ..assets import AssetSchema
from ..exceptions import AssetTooLargeError, RequestError, UnsupportedMediaError
from ..fetch import SniffedStream
from ..mirror.replicate import replicate_later
from ..state import current_state
from .blueprint import bp, user_id
from .form_stream import READ_SIZE, FormStream
from .openapi import UPLOADS, secured

#: Upload ``purpose`` -> (asset class, the kinds of media it accepts).
PURPOSES: dict[str | None, tuple[str, tuple[str, ...]]] = {
    "voice_clone": ("voice_recordings", ("audio",)),
    "stt_input": ("stt_input", ("audio", "video")),
    "watermark_input": ("watermark", ("audio", "video", "image")),
    "audio_job_input": ("audio_jobs", ("audio",)),
    None: ("uploads", ("audio", "video", "image")),
}
_MULTIPART_OVERHEAD = 64 * 1024
_MAX_PARTS = 20
_SPOOL_IN_MEMORY = 512 * 1024
_MAX_FILE_NAME = 255


def clean_file_name(name: str | None) -> str:
    """A client's file name, safe to show: its last path part, NFC-normalised,
    without control or format characters, at most 255 characters. It never
    reaches an object key."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = name.strip().strip(".")
    return name[:_MAX_FILE_NAME] or "upload"


def _too_large(limit: int) -> RequestError:
    return RequestError(413, f"uploads are limited to {limit} bytes")


def new_spool() -> SpooledTemporaryFile[bytes]:
    """Where a file part that came before ``purpose`` waits for the end of the
    body: memory up to 512 KiB, then a temporary file."""
    return SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)


def _open_form() -> FormStream:
    """The request's body as a :class:`FormStream`, with the size limit
    enforced as it streams in."""
    if request.mimetype != "multipart/form-data":
        raise RequestError(
            400, "expected a multipart/form-data body with a 'file' part"
        )
    boundary = request.mimetype_params.get("boundary", "")
    if not boundary or not boundary.isascii():
        raise RequestError(400, "malformed multipart body: no boundary")
    limit = current_state().settings.max_upload_bytes
    # Enforced while the body streams in, chunked bodies included.
    request.max_content_length = limit + _MULTIPART_OVERHEAD
    if (
        request.content_length is not None
        and request.content_length > limit + _MULTIPART_OVERHEAD
    ):
        raise _too_large(limit)
    return FormStream(
        request.stream.read,
        boundary.encode("ascii"),
        max_parts=_MAX_PARTS,
        max_field_bytes=_MULTIPART_OVERHEAD,
    )


class _ToTheEnd:
    """The file part's bytes, whose end is reported only once the rest of the
    body has been read: a body cut short or malformed after the file fails the
    put (which then leaves no object) instead of storing it."""

    def __init__(self, form: FormStream) -> None:
        self._form = form

    def readinto(self, view: memoryview) -> int:
        count = self._form.readinto(view)
        if not count:
            self._form.finish()
        return count


def _spool(form: FormStream, limit: int) -> SpooledTemporaryFile[bytes]:
    spool = new_spool()
    size = 0
    try:
        with memoryview(bytearray(READ_SIZE)) as view:
            while count := form.readinto(view):
                size += count
                if size > limit:
                    raise _too_large(limit)
                spool.write(view[:count])
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _receive() -> dict[str, Any]:
    """Read the form and store its ``file``: straight from the body when
    ``purpose`` came before it, else from a spool once the body has ended."""
    form = _open_form()
    limit = current_state().settings.max_upload_bytes
    spooled: tuple[SpooledTemporaryFile[bytes], str] | None = None
    try:
        while (part := form.next_file()) is not None:
            if part.name != "file" or spooled is not None:
                continue  # skipped: only the first 'file' part is the upload
            if "purpose" in form.fields:
                stream = SniffedStream(_ToTheEnd(form), limit=limit)
                return _store_upload(stream, form.fields, part.filename)
            spooled = _spool(form, limit), part.filename
        if spooled is None:
            raise RequestError(
                422, "a 'file' part is required", errors={"file": ["required"]}
            )
        stream = SniffedStream(spooled[0], limit=limit)
        return _store_upload(stream, form.fields, spooled[1])
    except (RequestEntityTooLarge, AssetTooLargeError):
        raise _too_large(limit) from None
    finally:
        if spooled is not None:
            spooled[0].close()


#: The upload's form, for the OpenAPI document (the route parses it as it streams).
UPLOAD_FORM: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "Audio (or, for some purposes, video or "
                        "an image); the type is sniffed from the bytes",
                    },
                    "purpose": {
                        "type": "string",
                        "enum": sorted(p for p in PURPOSES if p),
                        "description": "Where it is stored; none: uploads/",
                    },
                },
            }
        }
    },
}


def _error(code: int, description: str) -> Any:
    return bp.alt_response(code, schema=ErrorSchema, description=description)


@bp.route("/uploads", methods=["POST"], tags=[UPLOADS])
@bp.doc(requestBody=UPLOAD_FORM)
@bp.response(201, AssetSchema)
@_error(400, "Malformed multipart body")
@_error(413, "Larger than INDOX_MEDIA_MAX_UPLOAD_BYTES")
@_error(415, "Not audio (or not a media type the purpose allows)")
@_error(422, "No file, an empty file, or an unknown purpose")
@_error(502, "The storage failed")
@secured
def upload() -> dict[str, Any]:
    """Upload a file to the bucket.

    A multipart file, with an optional purpose that picks its class and
    retention: voice_clone to voice-recordings/ (permanent), stt_input to
    stt-input/ (30 days), watermark_input to watermark/ (7 days),
    audio_job_input to audio-jobs/ (7 days), none to uploads/ (30 days). The
    type is sniffed from the bytes; the client's type and name are not trusted.
    The answer's url (the same as audio_url) can be passed as audio_url to the
    other routes.
    """
    return _receive()


def _store_upload(
    stream: SniffedStream, form: dict[str, str], name: str | None
) -> dict[str, Any]:
    purpose = form.get("purpose") or None
    if purpose not in PURPOSES:
        allowed = sorted(p for p in PURPOSES if p)
        raise RequestError(
            422,
            f"unknown purpose; allowed: {', '.join(allowed)}",
            errors={"purpose": allowed},
        )
    asset_class, kinds = PURPOSES[purpose]
    if not stream.head:
        raise RequestError(422, "the file is empty", errors={"file": ["empty"]})
    media_type = stream.media_type
    if media_type is None or media_type.kind not in kinds:
        raise UnsupportedMediaError(
            f"not a media type {purpose or 'an upload'} accepts ({', '.join(kinds)})"
        )
    state = current_state()
    file_name = clean_file_name(name)
    asset, size = state.catalog.store(
        asset_class,
        user_id(),
        cast(BinaryIO, stream),
        content_type=media_type.content_type,
        extension=media_type.extension,
        metadata={"file-name": file_name.encode("ascii", "replace").decode()},
    )
    replicate_later(state, asset)
    fields = state.catalog.describe(
        asset,
        key=asset.key,
        status="mirrored",
        size_bytes=size,
        file_name=file_name,
        extension=media_type.extension,
        file_type=media_type.kind,
        content_type=media_type.content_type,
        created_at=asset.created_at,
    )
    return {**fields, "url": fields["audio_url"]}
