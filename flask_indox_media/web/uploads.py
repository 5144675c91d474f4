"""``POST /uploads``: a caller's file, its type sniffed, its size limit
enforced while it streams in, stored under the class its ``purpose`` names."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask import request
from flask_smorest.error_handler import ErrorSchema
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, default_stream_factory

from ..assets import AssetSchema
from ..exceptions import RequestError, UnsupportedMediaError
from ..media_types import SNIFF_BYTES, sniff
from ..mirror.replicate import replicate_later
from ..state import current_state
from .blueprint import bp, user_id
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


def _parse_upload() -> tuple[Any, dict[str, str]]:
    """The ``file`` part and the form fields, read with the size limit enforced
    as the body streams in (spooled to disk, never whole in memory)."""
    if request.mimetype != "multipart/form-data":
        raise RequestError(
            400, "expected a multipart/form-data body with a 'file' part"
        )
    if "boundary" not in request.mimetype_params:
        raise RequestError(400, "malformed multipart body: no boundary")
    limit = current_state().settings.max_upload_bytes
    # Enforced while the body streams in, chunked bodies included.
    request.max_content_length = limit + _MULTIPART_OVERHEAD
    if (
        request.content_length is not None
        and request.content_length > limit + _MULTIPART_OVERHEAD
    ):
        raise _too_large(limit)
    spooled: list[Any] = []

    def spool(*args: Any, **kwargs: Any) -> Any:
        spooled.append(default_stream_factory(*args, **kwargs))
        return spooled[-1]

    parser = FormDataParser(
        stream_factory=spool,
        max_content_length=limit + _MULTIPART_OVERHEAD,
        max_form_parts=20,
        silent=False,
    )
    try:
        _, form, files = parser.parse(
            request.stream,
            request.mimetype,
            request.content_length,
            request.mimetype_params,
        )
    except (RequestEntityTooLarge, ValueError) as exc:
        for partial in spooled:  # what the parser had spooled before it stopped
            partial.close()
        if isinstance(exc, RequestEntityTooLarge):
            raise _too_large(limit) from None
        raise RequestError(400, "malformed multipart body") from None
    upload = files.get("file")
    for values in files.listvalues():
        for extra in values:
            if extra is not upload:
                extra.close()
    if upload is None:
        raise RequestError(
            422, "a 'file' part is required", errors={"file": ["required"]}
        )
    return upload, form.to_dict()


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
    upload, form = _parse_upload()
    try:
        return _store_upload(upload, form)
    finally:
        upload.close()


def _store_upload(upload: Any, form: dict[str, str]) -> dict[str, Any]:
    purpose = form.get("purpose") or None
    if purpose not in PURPOSES:
        allowed = sorted(p for p in PURPOSES if p)
        raise RequestError(
            422,
            f"unknown purpose; allowed: {', '.join(allowed)}",
            errors={"purpose": allowed},
        )
    asset_class, kinds = PURPOSES[purpose]
    stream = upload.stream
    head = stream.read(SNIFF_BYTES)
    if not head:
        raise RequestError(422, "the file is empty", errors={"file": ["empty"]})
    media_type = sniff(head)
    if media_type is None or media_type.kind not in kinds:
        raise UnsupportedMediaError(
            f"not a media type {purpose or 'an upload'} accepts ({', '.join(kinds)})"
        )
    state = current_state()
    limit = state.settings.max_upload_bytes
    stream.seek(0, 2)
    if stream.tell() > limit:
        raise _too_large(limit)
    stream.seek(0)
    file_name = clean_file_name(upload.filename)
    asset, size = state.catalog.store(
        asset_class,
        user_id(),
        stream,
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
