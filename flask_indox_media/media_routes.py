"""Uploads and the media API: the caller's own assets, by ``asset_id``.

Registered on the gateway blueprint, behind the same authentication.
"""

from __future__ import annotations

import unicodedata
from http import HTTPStatus
from typing import Any

from flask import redirect, request
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, default_stream_factory
from werkzeug.wrappers import Response

from .assets import Asset
from .blueprint import bp
from .exceptions import InvalidKeyPartError
from .gateway import fail, state, user_id
from .keys import DEFAULT_CLASSES, isoformat_z
from .media_types import SNIFF_BYTES, sniff

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


class AssetSchema(Schema):
    asset_id = fields.String()
    asset_class = fields.String()
    key = fields.String()
    status = fields.String(metadata={"description": "pending, mirrored or failed"})
    audio_url = fields.String(
        metadata={"description": "presigned, INDOX_MEDIA_PRESIGN_TTL"}
    )
    expires_at = fields.String(allow_none=True)
    resemble_url = fields.String(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)
    content_type = fields.String(allow_none=True)
    created_at = fields.String()


class UploadSchema(AssetSchema):
    url = fields.String(metadata={"description": "the same as audio_url"})
    file_name = fields.String()
    extension = fields.String()
    file_type = fields.String(metadata={"description": "audio, video or image"})


class MediaQuery(Schema):
    asset_class = fields.String(validate=validate.OneOf(sorted(DEFAULT_CLASSES)))


def clean_file_name(name: str | None) -> str:
    """A client's file name, safe to show: its last path part, NFC-normalised,
    without control or format characters, at most 255 characters. It never
    reaches an object key."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = name.strip().strip(".")
    return name[:_MAX_FILE_NAME] or "upload"


def _parse_upload() -> tuple[Any, dict[str, str]]:
    """The ``file`` part and the form fields, read with the size limit enforced
    as the body streams in (spooled to disk, never whole in memory)."""
    if request.mimetype != "multipart/form-data":
        fail(400, "expected a multipart/form-data body with a 'file' part")
    if "boundary" not in request.mimetype_params:
        fail(400, "malformed multipart body: no boundary")
    limit = state().settings.max_upload_bytes
    # Enforced while the body streams in, chunked bodies included.
    request.max_content_length = limit + _MULTIPART_OVERHEAD
    if (
        request.content_length is not None
        and request.content_length > limit + _MULTIPART_OVERHEAD
    ):
        fail(413, f"uploads are limited to {limit} bytes")
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
            fail(413, f"uploads are limited to {limit} bytes")
        fail(400, "malformed multipart body")
    upload = files.get("file")
    for values in files.listvalues():
        for extra in values:
            if extra is not upload:
                extra.close()
    if upload is None:
        fail(422, "a 'file' part is required", errors={"file": ["required"]})
    return upload, form.to_dict()


@bp.route("/uploads", methods=["POST"])
@bp.response(201, UploadSchema)
@bp.alt_response(400, description="Malformed multipart body")
@bp.alt_response(413, description="Larger than INDOX_MEDIA_MAX_UPLOAD_BYTES")
@bp.alt_response(415, description="Not audio (or not a media type the purpose allows)")
@bp.alt_response(422, description="No file, an empty file, or an unknown purpose")
def upload() -> dict[str, Any]:
    """Upload a file (multipart ``file``, optional ``purpose``) to the bucket.

    ``voice_clone`` -> ``voice-recordings/`` (permanent), ``stt_input`` ->
    ``stt-input/`` (30 days), ``watermark_input`` -> ``watermark/`` (7 days),
    ``audio_job_input`` -> ``audio-jobs/`` (7 days), none -> ``uploads/`` (30 days).
    The type is sniffed from the bytes; the client's type and name are not trusted.
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
        fail(
            422,
            f"unknown purpose; allowed: {', '.join(allowed)}",
            errors={"purpose": allowed},
        )
    asset_class, kinds = PURPOSES[purpose]
    stream = upload.stream
    head = stream.read(SNIFF_BYTES)
    if not head:
        fail(422, "the file is empty", errors={"file": ["empty"]})
    media_type = sniff(head)
    if media_type is None or media_type.kind not in kinds:
        fail(
            415,
            f"not a media type {purpose or 'an upload'} accepts ({', '.join(kinds)})",
        )
    limit = state().settings.max_upload_bytes
    stream.seek(0, 2)
    if stream.tell() > limit:
        fail(413, f"uploads are limited to {limit} bytes")
    stream.seek(0)
    file_name = clean_file_name(upload.filename)
    asset, size = state().store(
        asset_class,
        user_id(),
        stream,
        content_type=media_type.content_type,
        extension=media_type.extension,
        metadata={"file-name": file_name.encode("ascii", "replace").decode()},
    )
    fields_ = state().describe(asset)
    return {
        **fields_,
        "key": asset.key,
        "url": fields_["audio_url"],
        "status": "mirrored",
        "size_bytes": size,
        "file_name": file_name,
        "extension": media_type.extension,
        "file_type": media_type.kind,
        "content_type": media_type.content_type,
        "created_at": isoformat_z(asset.created_at),
    }


def own_asset(asset_id: str) -> Asset:
    """The caller's asset ``asset_id`` names; 404 for anything else."""
    try:
        return state().resolve(asset_id, user_id())
    except InvalidKeyPartError:
        fail(404, "no such asset")


def _describe(asset: Asset) -> dict[str, Any]:
    """The media API's view of one asset; 404 when it neither exists nor is
    being mirrored."""
    st = state()
    found = st.locate(asset)
    if found is not None:
        backend, info = found
        return {
            **st.describe(
                asset, resemble_url=info.metadata.get("source-url"), backend=backend
            ),
            "key": asset.key,
            "status": "mirrored",
            "size_bytes": info.size,
            "content_type": info.content_type,
            "created_at": isoformat_z(asset.created_at),
        }
    pending = st.mirror.pending_source(asset)
    if pending is None:
        fail(404, "no such asset")
    status, source = pending
    return {
        **st.describe(asset, resemble_url=source),
        "key": asset.key,
        "status": status,
        "size_bytes": None,
        "content_type": None,
        "created_at": isoformat_z(asset.created_at),
    }


@bp.route("/media/<asset_id>", methods=["GET"])
@bp.response(200, AssetSchema)
@bp.alt_response(404, description="No such asset of the caller")
def get_media(asset_id: str) -> dict[str, Any]:
    """One of the caller's assets, with a fresh ``audio_url``."""
    return _describe(own_asset(asset_id))


@bp.route("/media/<asset_id>/audio", methods=["GET"])
@bp.response(302)
@bp.alt_response(404, description="No such asset, or it has expired")
def media_audio(asset_id: str) -> Response:
    """A stable link for players: a redirect to a fresh presigned URL (or to
    ``resemble_url`` while the mirror is pending), until ``expires_at``."""
    asset = own_asset(asset_id)
    st = state()
    if asset.expires_at is not None and st.clock() >= asset.expires_at:
        fail(404, "this asset has expired")
    described = _describe(asset)
    target = (
        described["audio_url"]
        if described["status"] == "mirrored"
        else described["resemble_url"]
    )
    if not target:
        fail(404, "this asset is not available")
    response = redirect(target, code=HTTPStatus.FOUND)
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.route("/media", methods=["GET"])
@bp.arguments(MediaQuery, location="query")
@bp.response(200, AssetSchema(many=True))
@bp.paginate()
def list_media(
    args: dict[str, Any], pagination_parameters: Any
) -> list[dict[str, Any]]:
    """The caller's assets, newest first, filterable by ``asset_class``."""
    st = state()
    owner = user_id()
    classes = st.settings.classes
    wanted = (
        [classes[args["asset_class"]]]
        if "asset_class" in args
        else list(classes.values())
    )
    seen: dict[str, Any] = {}
    for name, backend in st.backends.items():
        for asset_class in wanted:
            for info in backend.list_objects(f"{asset_class.prefix}{owner}/"):
                seen.setdefault(info.key, (name, info))
    rows = []
    for key, (backend, info) in seen.items():
        try:
            rows.append((Asset(classes.parse(key), backend), info))
        except InvalidKeyPartError:
            continue  # not an object this extension wrote
    rows.sort(key=lambda row: (row[0].created_at, row[0].key), reverse=True)
    pagination_parameters.item_count = len(rows)
    start = (pagination_parameters.page - 1) * pagination_parameters.page_size
    page = rows[start : start + pagination_parameters.page_size]
    return [
        {
            **st.describe(asset),
            "key": asset.key,
            "status": "mirrored",
            "size_bytes": info.size,
            "created_at": isoformat_z(asset.created_at),
        }
        for asset, info in page
    ]


@bp.route("/media/<asset_id>", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(404, description="No such asset of the caller")
def delete_media(asset_id: str) -> None:
    """Delete one of the caller's assets, on every configured backend, and
    cancel its pending mirror."""
    asset = own_asset(asset_id)
    st = state()
    if st.locate(asset) is None and st.mirror.pending_source(asset) is None:
        fail(404, "no such asset")
    st.mirror.cancel(asset)
    for backend in st.backends.values():
        backend.delete(asset.key)
