"""The Resemble gateway routes: a flask-smorest Blueprint mounted at
``INDOX_MEDIA_URL_PREFIX`` (``/api/v1/resemble``)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate
from redis.exceptions import RedisError

from . import callbacks, gateway
from .exceptions import (
    AssetTooLargeError,
    InvalidKeyPartError,
    SourceRejectedError,
    StorageError,
    UnsupportedMediaError,
    UpstreamError,
)
from .gateway import error, relay, state
from .keys import validate_user_id

bp = Blueprint(
    "indox_media_gateway",
    __name__,
    description="Resemble AI, proxied: every audio asset is mirrored to the gateway's "
    "bucket and gains audio_url, expires_at and resemble_url.",
)


class _Open(Schema):
    class Meta:
        unknown = INCLUDE  # Resemble's further options pass through


class PageArgs(_Open):
    page = fields.Integer(validate=validate.Range(min=1))
    page_size = fields.Integer(validate=validate.Range(min=1, max=1000))


class SynthesizeArgs(_Open):
    voice_uuid = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1))
    output_format = fields.String(
        load_default="mp3", validate=validate.OneOf(["mp3", "wav"])
    )


class FieldsArgs(_Open):
    fields_ = fields.Dict(data_key="fields", attribute="fields", load_default=dict)


class VoiceArgs(_Open):
    name = fields.String(required=True)


class DesignArgs(_Open):
    description = fields.String(required=True)
    sample_text = fields.String()
    params = fields.Dict()


class PromoteArgs(_Open):
    candidate_index = fields.Integer(required=True, validate=validate.Range(min=0))
    name = fields.String(required=True)


class AudioArgs(_Open):
    audio_url = fields.String(required=True)


class SttArgs(AudioArgs):
    language = fields.String()
    callback_uri = fields.String()


class EditArgs(AudioArgs):
    original_transcript = fields.String()
    target_transcript = fields.String()
    voice_uuid = fields.String()


@bp.before_request
def _authenticate() -> Response | None:
    if request.endpoint == "indox_media_gateway.callback":
        return None  # authenticated by its signed token
    user = state().current_user()
    if not user:
        return error(401, "missing or invalid API key")
    try:
        g._indox_media_user = validate_user_id(user)
    except InvalidKeyPartError:
        return error(401, "this API key's user id cannot own assets")
    return None


@bp.errorhandler(UpstreamError)
def _upstream_error(exc: UpstreamError) -> Response:
    return error(exc.status, str(exc))


@bp.errorhandler(SourceRejectedError)
def _source_error(exc: SourceRejectedError) -> Response:
    return error(
        422, "audio_url is not an allowed source", errors={"audio_url": [str(exc)]}
    )


@bp.errorhandler(StorageError)
def _storage_error(exc: StorageError) -> Response:
    return error(502, "the media storage is unavailable")


@bp.errorhandler(RedisError)
def _queue_error(exc: RedisError) -> Response:
    return error(502, "the job queue is unavailable")


@bp.errorhandler(AssetTooLargeError)
def _too_large(exc: AssetTooLargeError) -> Response:
    return error(413, str(exc))


@bp.errorhandler(UnsupportedMediaError)
def _unsupported(exc: UnsupportedMediaError) -> Response:
    return error(415, str(exc))


def _call(
    kind: str | None,
    method: str,
    path: str,
    *,
    route_id: str | None = None,
    body: gateway.MultipartBody | None = None,
    **kw: Any,
) -> Response:
    upstream = state().upstream
    headers = gateway.forwarded_headers()
    if body is not None:
        headers["Content-Type"] = body.content_type
        kw["data"] = iter(body)
    try:
        response = upstream.request(
            method, upstream.v2_url(path), headers=headers, **kw
        )
    finally:
        if body is not None:
            body.close()
    return relay(response, kind, route_id=route_id)


def _with_file(
    field: str, audio_url: str, form: dict[str, Any]
) -> gateway.MultipartBody:
    """The caller's audio (own asset or allowed URL) as Resemble's file field."""
    name, stream, content_type = gateway.input_audio(audio_url)
    return gateway.MultipartBody(form, field, name, stream, content_type)


# Text-to-speech ------------------------------------------------------------


@bp.route("/tts/synthesize", methods=["POST"])
@bp.arguments(SynthesizeArgs)
def synthesize(args: dict[str, Any]) -> Response:
    """Synthesize speech; the inline audio is mirrored to ``tts/``."""
    body = {**args, "data": args.pop("text")}
    upstream = state().upstream
    response = upstream.request(
        "POST", upstream.synth_url + "synthesize", json=body, synth=True
    )
    return relay(response, "tts")


@bp.route("/synthesize", methods=["POST"])
def direct_synthesis() -> Response:
    """Resemble's direct synthesis body, as the SDK's ``clips.create_direct`` sends."""
    upstream = state().upstream
    response = upstream.request(
        "POST",
        upstream.synth_url + "synthesize",
        data=request.get_data(),
        headers={"Content-Type": request.content_type or "application/json"},
        synth=True,
    )
    return relay(response, "tts")


@bp.route("/tts/voices", methods=["GET"])
@bp.arguments(PageArgs, location="query")
def list_voices(args: dict[str, Any]) -> Response:
    return _call("voice", "GET", "voices", params=args)


@bp.route("/tts/voices/<voice_uuid>", methods=["GET"])
def get_voice(voice_uuid: str) -> Response:
    return _call("voice", "GET", f"voices/{voice_uuid}", route_id=voice_uuid)


# Voices and recordings -------------------------------------------------------


@bp.route("/voices", methods=["POST"])
@bp.arguments(VoiceArgs)
def create_voice(args: dict[str, Any]) -> Response:
    callbacks.substitute(args, "voice")
    return _call("voice", "POST", "voices", json=args)


@bp.route("/voices/<voice_uuid>/build", methods=["POST"])
@bp.arguments(_Open)
def build_voice(args: dict[str, Any], voice_uuid: str) -> Response:
    return _call("voice", "POST", f"voices/{voice_uuid}/build", json=args)


@bp.route("/voices/<voice_uuid>", methods=["DELETE"])
def delete_voice(voice_uuid: str) -> Response:
    return _call(None, "DELETE", f"voices/{voice_uuid}")


@bp.route("/voices/<voice_uuid>/recordings", methods=["GET"])
@bp.arguments(PageArgs, location="query")
def list_recordings(args: dict[str, Any], voice_uuid: str) -> Response:
    return _call("recording", "GET", f"voices/{voice_uuid}/recordings", params=args)


@bp.route("/voices/<voice_uuid>/recordings", methods=["POST"])
@bp.arguments(FieldsArgs)
def create_recording(args: dict[str, Any], voice_uuid: str) -> Response:
    """Create a training recording from ``fields.audio_url`` (sent as a file)."""
    form = dict(args.get("fields") or {})
    audio_url = form.pop("audio_url", None)
    if not isinstance(audio_url, str) or not audio_url:
        return error(
            422,
            "fields.audio_url is required",
            errors={"fields": {"audio_url": ["required"]}},
        )
    form = {k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}
    return _call(
        "recording",
        "POST",
        f"voices/{voice_uuid}/recordings",
        body=_with_file("file", audio_url, form),
    )


@bp.route("/voices/<voice_uuid>/recordings/<recording_uuid>", methods=["GET"])
def get_recording(voice_uuid: str, recording_uuid: str) -> Response:
    return _call(
        "recording",
        "GET",
        f"voices/{voice_uuid}/recordings/{recording_uuid}",
        route_id=recording_uuid,
    )


@bp.route("/voices/<voice_uuid>/recordings/<recording_uuid>", methods=["PUT"])
@bp.arguments(FieldsArgs)
def update_recording(
    args: dict[str, Any], voice_uuid: str, recording_uuid: str
) -> Response:
    path = f"voices/{voice_uuid}/recordings/{recording_uuid}"
    return _call(
        "recording", "PUT", path, json=args.get("fields") or {}, route_id=recording_uuid
    )


@bp.route("/voices/<voice_uuid>/recordings/<recording_uuid>", methods=["DELETE"])
def delete_recording(voice_uuid: str, recording_uuid: str) -> Response:
    return _call(None, "DELETE", f"voices/{voice_uuid}/recordings/{recording_uuid}")


# Voice design ------------------------------------------------------------------


@bp.route("/voice-design/candidates", methods=["POST"])
@bp.arguments(DesignArgs)
def design_candidates(args: dict[str, Any]) -> Response:
    """Three candidate voices; each candidate's audio is mirrored to ``voice-design/``."""
    body = {
        **(args.pop("params", None) or {}),
        **args,
        "user_prompt": args.pop("description"),
    }
    return _call("voice_design", "POST", "voice-design", json=body)


@bp.route("/voice-design/<design_uuid>/promote", methods=["POST"])
@bp.arguments(PromoteArgs)
def promote_candidate(args: dict[str, Any], design_uuid: str) -> Response:
    path = f"voice-design/{design_uuid}/{args['candidate_index']}/create_rapid_voice"
    return _call("voice", "POST", path, data={"voice_name": args["name"]})


# Speech-to-text, enhance, edit -------------------------------------------------


@bp.route("/stt", methods=["POST"])
@bp.arguments(SttArgs)
def create_stt(args: dict[str, Any]) -> Response:
    body = {**args, "url": gateway.input_url(args.pop("audio_url"))}
    if "callback_uri" in body:
        body["callback_url"] = body.pop("callback_uri")
    return _call("stt", "POST", "speech-to-text", json=body)


@bp.route("/stt/<job_id>", methods=["GET"])
def get_stt(job_id: str) -> Response:
    return _call("stt", "GET", f"speech-to-text/{job_id}", route_id=job_id)


@bp.route("/enhance", methods=["POST"])
@bp.arguments(AudioArgs)
def create_enhance(args: dict[str, Any]) -> Response:
    """Enhance audio: the gateway sends ``audio_url``'s bytes as ``audio_file``."""
    audio_url = args.pop("audio_url")
    return _call(
        "enhance",
        "POST",
        "audio_enhancements",
        body=_with_file("audio_file", audio_url, args),
    )


@bp.route("/enhance/<job_id>", methods=["GET"])
def get_enhance(job_id: str) -> Response:
    """Poll; the first poll that shows the result mirrors it to ``audio-jobs/``."""
    return _call("enhance", "GET", f"audio_enhancements/{job_id}", route_id=job_id)


@bp.route("/edit", methods=["POST"])
@bp.arguments(EditArgs)
def create_edit(args: dict[str, Any]) -> Response:
    audio_url = args.pop("audio_url")
    return _call(
        "edit", "POST", "edit", body=_with_file("input_audio", audio_url, args)
    )


@bp.route("/edit/<job_id>", methods=["GET"])
def get_edit(job_id: str) -> Response:
    return _call("edit", "GET", f"edit/{job_id}", route_id=job_id)


# Watermark -------------------------------------------------------------------


@bp.route("/watermark/apply", methods=["POST"])
@bp.arguments(AudioArgs)
def apply_watermark(args: dict[str, Any]) -> Response:
    body = {**args, "url": gateway.input_url(args.pop("audio_url"))}
    return _call("watermark", "POST", "watermark/apply", json=body)


@bp.route("/watermark/apply/<job_id>", methods=["GET"])
def get_watermark(job_id: str) -> Response:
    return _call(
        "watermark", "GET", f"watermark/apply/{job_id}/result", route_id=job_id
    )


@bp.route("/watermark/detect", methods=["POST"])
@bp.arguments(AudioArgs)
def detect_watermark(args: dict[str, Any]) -> Response:
    body = {**args, "url": gateway.input_url(args.pop("audio_url"))}
    return _call(None, "POST", "watermark/detect", json=body)


@bp.route("/watermark/detect/<job_id>", methods=["GET"])
def get_watermark_detection(job_id: str) -> Response:
    return _call(None, "GET", f"watermark/detect/{job_id}/result")


# Project clips ---------------------------------------------------------------


@bp.route("/projects/<project_uuid>/clips", methods=["POST"])
@bp.arguments(_Open)
def create_clip(args: dict[str, Any], project_uuid: str) -> Response:
    """Create a clip, synchronously or (with ``callback_uri``) asynchronously:
    the gateway then receives Resemble's callback, mirrors the audio, and
    forwards the rewritten payload to the caller's ``callback_uri``."""
    body = dict(args.get("fields") or args)
    callbacks.substitute(body, "clip_callback")
    return _call("clip", "POST", f"projects/{project_uuid}/clips", json=body)


@bp.route("/projects/<project_uuid>/clips", methods=["GET"])
@bp.arguments(PageArgs, location="query")
def list_clips(args: dict[str, Any], project_uuid: str) -> Response:
    return _call("clip", "GET", f"projects/{project_uuid}/clips", params=args)


@bp.route("/projects/<project_uuid>/clips/<clip_uuid>", methods=["GET"])
def get_clip(project_uuid: str, clip_uuid: str) -> Response:
    return _call(
        "clip", "GET", f"projects/{project_uuid}/clips/{clip_uuid}", route_id=clip_uuid
    )


from . import media_routes, native_routes  # noqa: E402,F401  (they register on bp)
