"""The gateway's own routes (IndoxHub's layout): one per audio-bearing
Resemble capability, each naming the kind of answer it relays
(:mod:`flask_indox_media.endpoints`)."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..exceptions import RequestError
from ..state import current_state
from .blueprint import bp
from .callbacks import substitute_callback
from .inputs import MultipartBody, input_url
from .relay import call, relay
from .schemas import (
    AudioArgs,
    DesignArgs,
    EditArgs,
    FieldsArgs,
    Open,
    PageArgs,
    PromoteArgs,
    SttArgs,
    SynthesizeArgs,
    VoiceArgs,
)

# Text-to-speech ------------------------------------------------------------


@bp.route("/tts/synthesize", methods=["POST"])
@bp.arguments(SynthesizeArgs)
def synthesize(args: dict[str, Any]) -> Response:
    """Synthesize speech; the inline audio is mirrored to ``tts/``."""
    body = {**args, "data": args.pop("text")}
    upstream = current_state().upstream
    response = upstream.request(
        "POST", upstream.synth_url + "synthesize", json=body, synth=True
    )
    return relay(response, "tts")


@bp.route("/tts/voices", methods=["GET"])
@bp.arguments(PageArgs, location="query")
def list_voices(args: dict[str, Any]) -> Response:
    return call("voice", "GET", "voices", params=args)


@bp.route("/tts/voices/<voice_uuid>", methods=["GET"])
def get_voice(voice_uuid: str) -> Response:
    return call("voice", "GET", f"voices/{voice_uuid}", route_id=voice_uuid)


# Voices and recordings -------------------------------------------------------


@bp.route("/voices", methods=["POST"])
@bp.arguments(VoiceArgs)
def create_voice(args: dict[str, Any]) -> Response:
    substitute_callback(args, "voice")
    return call("voice", "POST", "voices", json=args)


@bp.route("/voices/<voice_uuid>/build", methods=["POST"])
@bp.arguments(Open)
def build_voice(args: dict[str, Any], voice_uuid: str) -> Response:
    return call("voice", "POST", f"voices/{voice_uuid}/build", json=args)


@bp.route("/voices/<voice_uuid>", methods=["DELETE"])
def delete_voice(voice_uuid: str) -> Response:
    return call(None, "DELETE", f"voices/{voice_uuid}")


@bp.route("/voices/<voice_uuid>/recordings", methods=["GET"])
@bp.arguments(PageArgs, location="query")
def list_recordings(args: dict[str, Any], voice_uuid: str) -> Response:
    return call("recording", "GET", f"voices/{voice_uuid}/recordings", params=args)


@bp.route("/voices/<voice_uuid>/recordings", methods=["POST"])
@bp.arguments(FieldsArgs)
def create_recording(args: dict[str, Any], voice_uuid: str) -> Response:
    """Create a training recording from ``fields.audio_url`` (sent as a file)."""
    form = dict(args.get("fields") or {})
    audio_url = form.pop("audio_url", None)
    if not isinstance(audio_url, str) or not audio_url:
        raise RequestError(
            422,
            "fields.audio_url is required",
            errors={"fields": {"audio_url": ["required"]}},
        )
    form = {k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}
    return call(
        "recording",
        "POST",
        f"voices/{voice_uuid}/recordings",
        body=MultipartBody.for_audio("file", audio_url, form),
    )


@bp.route("/voices/<voice_uuid>/recordings/<recording_uuid>", methods=["GET"])
def get_recording(voice_uuid: str, recording_uuid: str) -> Response:
    return call(
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
    return call(
        "recording", "PUT", path, json=args.get("fields") or {}, route_id=recording_uuid
    )


@bp.route("/voices/<voice_uuid>/recordings/<recording_uuid>", methods=["DELETE"])
def delete_recording(voice_uuid: str, recording_uuid: str) -> Response:
    return call(None, "DELETE", f"voices/{voice_uuid}/recordings/{recording_uuid}")


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
    return call("voice_design", "POST", "voice-design", json=body)


@bp.route("/voice-design/<design_uuid>/promote", methods=["POST"])
@bp.arguments(PromoteArgs)
def promote_candidate(args: dict[str, Any], design_uuid: str) -> Response:
    path = f"voice-design/{design_uuid}/{args['candidate_index']}/create_rapid_voice"
    return call("voice", "POST", path, data={"voice_name": args["name"]})


# Speech-to-text, enhance, edit -------------------------------------------------


@bp.route("/stt", methods=["POST"])
@bp.arguments(SttArgs)
def create_stt(args: dict[str, Any]) -> Response:
    body = {**args, "url": input_url(args.pop("audio_url"))}
    if "callback_uri" in body:
        body["callback_url"] = body.pop("callback_uri")
    return call("stt", "POST", "speech-to-text", json=body)


@bp.route("/stt/<job_id>", methods=["GET"])
def get_stt(job_id: str) -> Response:
    return call("stt", "GET", f"speech-to-text/{job_id}", route_id=job_id)


@bp.route("/enhance", methods=["POST"])
@bp.arguments(AudioArgs)
def create_enhance(args: dict[str, Any]) -> Response:
    """Enhance audio: the gateway sends ``audio_url``'s bytes as ``audio_file``."""
    audio_url = args.pop("audio_url")
    return call(
        "enhance",
        "POST",
        "audio_enhancements",
        body=MultipartBody.for_audio("audio_file", audio_url, args),
    )


@bp.route("/enhance/<job_id>", methods=["GET"])
def get_enhance(job_id: str) -> Response:
    """Poll; the first poll that shows the result mirrors it to ``audio-jobs/``."""
    return call("enhance", "GET", f"audio_enhancements/{job_id}", route_id=job_id)


@bp.route("/edit", methods=["POST"])
@bp.arguments(EditArgs)
def create_edit(args: dict[str, Any]) -> Response:
    audio_url = args.pop("audio_url")
    return call(
        "edit",
        "POST",
        "edit",
        body=MultipartBody.for_audio("input_audio", audio_url, args),
    )


@bp.route("/edit/<job_id>", methods=["GET"])
def get_edit(job_id: str) -> Response:
    return call("edit", "GET", f"edit/{job_id}", route_id=job_id)


# Watermark -------------------------------------------------------------------


@bp.route("/watermark/apply", methods=["POST"])
@bp.arguments(AudioArgs)
def apply_watermark(args: dict[str, Any]) -> Response:
    body = {**args, "url": input_url(args.pop("audio_url"))}
    return call("watermark", "POST", "watermark/apply", json=body)


@bp.route("/watermark/apply/<job_id>", methods=["GET"])
def get_watermark(job_id: str) -> Response:
    return call("watermark", "GET", f"watermark/apply/{job_id}/result", route_id=job_id)


@bp.route("/watermark/detect", methods=["POST"])
@bp.arguments(AudioArgs)
def detect_watermark(args: dict[str, Any]) -> Response:
    body = {**args, "url": input_url(args.pop("audio_url"))}
    return call(None, "POST", "watermark/detect", json=body)


@bp.route("/watermark/detect/<job_id>", methods=["GET"])
def get_watermark_detection(job_id: str) -> Response:
    return call(None, "GET", f"watermark/detect/{job_id}/result")


# Project clips ---------------------------------------------------------------


@bp.route("/projects/<project_uuid>/clips", methods=["POST"])
@bp.arguments(Open)
def create_clip(args: dict[str, Any], project_uuid: str) -> Response:
    """Create a clip, synchronously or (with ``callback_uri``) asynchronously:
    the gateway then receives Resemble's callback, mirrors the audio, and
    forwards the rewritten payload to the caller's ``callback_uri``."""
    body = dict(args.get("fields") or args)
    substitute_callback(body, "clip_callback")
    return call("clip", "POST", f"projects/{project_uuid}/clips", json=body)


@bp.route("/projects/<project_uuid>/clips", methods=["GET"])
@bp.arguments(PageArgs, location="query")
def list_clips(args: dict[str, Any], project_uuid: str) -> Response:
    return call("clip", "GET", f"projects/{project_uuid}/clips", params=args)


@bp.route("/projects/<project_uuid>/clips/<clip_uuid>", methods=["GET"])
def get_clip(project_uuid: str, clip_uuid: str) -> Response:
    return call(
        "clip", "GET", f"projects/{project_uuid}/clips/{clip_uuid}", route_id=clip_uuid
    )
