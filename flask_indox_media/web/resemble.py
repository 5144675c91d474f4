"""The gateway's own routes (IndoxHub's layout): one per audio-bearing
Resemble capability, each naming the kind of answer it relays
(:mod:`flask_indox_media.endpoints`)."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import ValidationError

from ..exceptions import RequestError
from ..state import current_state
from .blueprint import bp
from .callbacks import substitute_callback
from .inputs import MultipartBody, input_url
from .openapi import (
    AUDIO_JOBS,
    CLIPS,
    STT,
    TTS,
    VOICE_DESIGN,
    VOICES,
    WATERMARK,
    relays,
)
from .relay import call, relay
from .responses import (
    ResembleCandidates,
    ResembleClipAnswer,
    ResembleClipList,
    ResembleDetectionAnswer,
    ResembleEditAnswer,
    ResembleEnhancement,
    ResemblePromotedVoice,
    ResembleRecordingAnswer,
    ResembleRecordingList,
    ResembleResult,
    ResembleSynthesis,
    ResembleTranscriptAnswer,
    ResembleVoiceAnswer,
    ResembleVoiceList,
    ResembleWatermarkingAnswer,
    with_asset,
)
from .schemas import (
    AudioArgs,
    ClipArgs,
    DesignArgs,
    EditArgs,
    FieldsArgs,
    Open,
    PageArgs,
    PromoteArgs,
    SttArgs,
    SynthesizeArgs,
    VoiceArgs,
    audio_source,
)

# Text-to-speech ------------------------------------------------------------


@bp.route("/tts/synthesize", methods=["POST"], tags=[TTS])
@bp.arguments(SynthesizeArgs)
@relays(with_asset(ResembleSynthesis))
def synthesize(args: dict[str, Any]) -> Response:
    """Synthesize speech.

    Resemble's synthesis of text (sent as data) in voice_uuid. The inline
    base64 audio is stored at once (class tts) and the asset fields are added
    at the top level of the answer.
    """
    text = args.pop("text")
    body = {**args, "data": text}
    upstream = current_state().upstream
    response = upstream.request(
        "POST", upstream.synth_url + "synthesize", json=body, synth=True
    )
    return relay(response, "tts")


@bp.route("/tts/voices", methods=["GET"], tags=[TTS])
@bp.arguments(PageArgs, location="query")
@relays(ResembleVoiceList)
def list_voices(args: dict[str, Any]) -> Response:
    """List the voices (each with a sample's asset fields, if it has a sample)."""
    return call("voice", "GET", "voices", params=args)


@bp.route("/tts/voices/<voice_uuid>", methods=["GET"], tags=[TTS])
@relays(ResembleVoiceAnswer)
def get_voice(voice_uuid: str) -> Response:
    """Get a voice."""
    return call("voice", "GET", f"voices/{voice_uuid}", route_id=voice_uuid)


# Voices and recordings -------------------------------------------------------


@bp.route("/voices", methods=["POST"], tags=[VOICES])
@bp.arguments(VoiceArgs)
@relays(ResembleVoiceAnswer)
def create_voice(args: dict[str, Any]) -> Response:
    """Create a voice.

    A callback_uri is replaced by the gateway's own signed callback URL.
    """
    substitute_callback(args, "voice")
    return call("voice", "POST", "voices", json=args)


@bp.route("/voices/<voice_uuid>/build", methods=["POST"], tags=[VOICES])
@bp.arguments(Open)
@relays(ResembleVoiceAnswer)
def build_voice(args: dict[str, Any], voice_uuid: str) -> Response:
    """Build a voice from its recordings."""
    return call("voice", "POST", f"voices/{voice_uuid}/build", json=args)


@bp.route("/voices/<voice_uuid>", methods=["DELETE"], tags=[VOICES])
@relays(ResembleResult)
def delete_voice(voice_uuid: str) -> Response:
    """Delete a voice."""
    return call(None, "DELETE", f"voices/{voice_uuid}")


@bp.route("/voices/<voice_uuid>/recordings", methods=["GET"], tags=[VOICES])
@bp.arguments(PageArgs, location="query")
@relays(ResembleRecordingList)
def list_recordings(args: dict[str, Any], voice_uuid: str) -> Response:
    """List a voice's training recordings, each with its asset fields."""
    return call("recording", "GET", f"voices/{voice_uuid}/recordings", params=args)


@bp.route("/voices/<voice_uuid>/recordings", methods=["POST"], tags=[VOICES])
@bp.arguments(FieldsArgs)
@relays(ResembleRecordingAnswer)
def create_recording(args: dict[str, Any], voice_uuid: str) -> Response:
    """Create a training recording.

    The gateway fetches fields.audio_url (an allowed source, or the caller's
    own asset) and sends its bytes to Resemble as a file; the other fields go
    as form fields. The recording's audio is mirrored (class voice_recordings,
    permanent).
    """
    form = dict(args.get("fields") or {})
    audio_url = form.pop("audio_url", None)
    if not isinstance(audio_url, str) or not audio_url:
        raise RequestError(
            422,
            "fields.audio_url is required",
            errors={"fields": {"audio_url": ["required"]}},
        )
    try:
        audio_source(audio_url)
    except ValidationError as exc:
        raise RequestError(
            422,
            "fields.audio_url is not a URL",
            errors={"fields": {"audio_url": exc.messages}},
        ) from None
    form = {k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}
    return call(
        "recording",
        "POST",
        f"voices/{voice_uuid}/recordings",
        body=MultipartBody.for_audio("file", audio_url, form),
    )


@bp.route(
    "/voices/<voice_uuid>/recordings/<recording_uuid>", methods=["GET"], tags=[VOICES]
)
@relays(ResembleRecordingAnswer)
def get_recording(voice_uuid: str, recording_uuid: str) -> Response:
    """Get a training recording."""
    return call(
        "recording",
        "GET",
        f"voices/{voice_uuid}/recordings/{recording_uuid}",
        route_id=recording_uuid,
    )


@bp.route(
    "/voices/<voice_uuid>/recordings/<recording_uuid>", methods=["PUT"], tags=[VOICES]
)
@bp.arguments(FieldsArgs)
@relays(ResembleRecordingAnswer)
def update_recording(
    args: dict[str, Any], voice_uuid: str, recording_uuid: str
) -> Response:
    """Update a training recording's fields."""
    path = f"voices/{voice_uuid}/recordings/{recording_uuid}"
    return call(
        "recording", "PUT", path, json=args.get("fields") or {}, route_id=recording_uuid
    )


@bp.route(
    "/voices/<voice_uuid>/recordings/<recording_uuid>",
    methods=["DELETE"],
    tags=[VOICES],
)
@relays(ResembleResult)
def delete_recording(voice_uuid: str, recording_uuid: str) -> Response:
    """Delete a training recording."""
    return call(None, "DELETE", f"voices/{voice_uuid}/recordings/{recording_uuid}")


# Voice design ------------------------------------------------------------------


@bp.route("/voice-design/candidates", methods=["POST"], tags=[VOICE_DESIGN])
@bp.arguments(DesignArgs)
@relays(ResembleCandidates)
def design_candidates(args: dict[str, Any]) -> Response:
    """Design candidate voices from a description.

    Three candidate voices; each candidate's audio is mirrored (class
    voice_design): audio_url becomes the mirror's and Resemble's URL moves to
    resemble_url.
    """
    body = {
        **(args.pop("params", None) or {}),
        **args,
        "user_prompt": args.pop("description"),
    }
    return call("voice_design", "POST", "voice-design", json=body)


@bp.route("/voice-design/<design_uuid>/promote", methods=["POST"], tags=[VOICE_DESIGN])
@bp.arguments(PromoteArgs)
@relays(ResemblePromotedVoice)
def promote_candidate(args: dict[str, Any], design_uuid: str) -> Response:
    """Promote a candidate to a voice."""
    path = f"voice-design/{design_uuid}/{args['candidate_index']}/create_rapid_voice"
    return call("voice", "POST", path, data={"voice_name": args["name"]})


# Speech-to-text, enhance, edit -------------------------------------------------


@bp.route("/stt", methods=["POST"], tags=[STT])
@bp.arguments(SttArgs)
@relays(ResembleTranscriptAnswer)
def create_stt(args: dict[str, Any]) -> Response:
    """Transcribe audio.

    audio_url is given to Resemble (the caller's own asset presigned afresh);
    callback_uri is sent as callback_url. The input is mirrored (class
    stt_input).
    """
    body = {**args, "url": input_url(args.pop("audio_url"))}
    if "callback_uri" in body:
        body["callback_url"] = body.pop("callback_uri")
    return call("stt", "POST", "speech-to-text", json=body)


@bp.route("/stt/<job_id>", methods=["GET"], tags=[STT])
@relays(ResembleTranscriptAnswer)
def get_stt(job_id: str) -> Response:
    """Get a transcription job."""
    return call("stt", "GET", f"speech-to-text/{job_id}", route_id=job_id)


@bp.route("/enhance", methods=["POST"], tags=[AUDIO_JOBS])
@bp.arguments(AudioArgs)
@relays(ResembleEnhancement, status=202)
def create_enhance(args: dict[str, Any]) -> Response:
    """Enhance audio.

    The gateway sends the bytes of audio_url as audio_file; the other fields
    go as form fields. Poll the job for its result.
    """
    audio_url = args.pop("audio_url")
    return call(
        "enhance",
        "POST",
        "audio_enhancements",
        body=MultipartBody.for_audio("audio_file", audio_url, args),
    )


@bp.route("/enhance/<job_id>", methods=["GET"], tags=[AUDIO_JOBS])
@relays(with_asset(ResembleEnhancement))
def get_enhance(job_id: str) -> Response:
    """Get an enhancement job.

    The first poll that shows the result mirrors it (class audio_jobs); the
    asset fields are then at the top level.
    """
    return call("enhance", "GET", f"audio_enhancements/{job_id}", route_id=job_id)


@bp.route("/edit", methods=["POST"], tags=[AUDIO_JOBS])
@bp.arguments(EditArgs)
@relays(ResembleEditAnswer)
def create_edit(args: dict[str, Any]) -> Response:
    """Edit audio by transcript.

    The gateway sends the bytes of audio_url as input_audio, with the
    transcripts and voice_uuid as form fields. Poll the job for its result.
    """
    audio_url = args.pop("audio_url")
    return call(
        "edit",
        "POST",
        "edit",
        body=MultipartBody.for_audio("input_audio", audio_url, args),
    )


@bp.route("/edit/<job_id>", methods=["GET"], tags=[AUDIO_JOBS])
@relays(ResembleEditAnswer)
def get_edit(job_id: str) -> Response:
    """Get an edit job.

    The first poll that shows the result mirrors it (class audio_jobs).
    """
    return call("edit", "GET", f"edit/{job_id}", route_id=job_id)


# Watermark -------------------------------------------------------------------


@bp.route("/watermark/apply", methods=["POST"], tags=[WATERMARK])
@bp.arguments(AudioArgs)
@relays(ResembleWatermarkingAnswer)
def apply_watermark(args: dict[str, Any]) -> Response:
    """Watermark audio, an image or a video.

    Send Prefer: wait for a synchronous answer.
    """
    body = {**args, "url": input_url(args.pop("audio_url"))}
    return call("watermark", "POST", "watermark/apply", json=body)


@bp.route("/watermark/apply/<job_id>", methods=["GET"], tags=[WATERMARK])
@relays(ResembleWatermarkingAnswer)
def get_watermark(job_id: str) -> Response:
    """Get a watermarking job.

    The first poll that shows the result mirrors it (class watermark).
    """
    return call("watermark", "GET", f"watermark/apply/{job_id}/result", route_id=job_id)


@bp.route("/watermark/detect", methods=["POST"], tags=[WATERMARK])
@bp.arguments(AudioArgs)
@relays(ResembleDetectionAnswer)
def detect_watermark(args: dict[str, Any]) -> Response:
    """Detect a watermark."""
    body = {**args, "url": input_url(args.pop("audio_url"))}
    return call(None, "POST", "watermark/detect", json=body)


@bp.route("/watermark/detect/<job_id>", methods=["GET"], tags=[WATERMARK])
@relays(ResembleDetectionAnswer)
def get_watermark_detection(job_id: str) -> Response:
    """Get a watermark detection job."""
    return call(None, "GET", f"watermark/detect/{job_id}/result")


# Project clips ---------------------------------------------------------------


@bp.route("/projects/<project_uuid>/clips", methods=["POST"], tags=[CLIPS])
@bp.arguments(ClipArgs)
@relays(ResembleClipAnswer)
def create_clip(args: dict[str, Any], project_uuid: str) -> Response:
    """Create a clip in a project.

    Synchronous, or (with callback_uri) asynchronous: the gateway then receives
    Resemble's callback, mirrors the audio, and forwards the rewritten payload
    to the caller's callback_uri. The body may be wrapped in fields.
    """
    body = dict(args.get("fields") or args)
    substitute_callback(body, "clip_callback")
    return call("clip", "POST", f"projects/{project_uuid}/clips", json=body)


@bp.route("/projects/<project_uuid>/clips", methods=["GET"], tags=[CLIPS])
@bp.arguments(PageArgs, location="query")
@relays(ResembleClipList)
def list_clips(args: dict[str, Any], project_uuid: str) -> Response:
    """List a project's clips, each with its asset fields."""
    return call("clip", "GET", f"projects/{project_uuid}/clips", params=args)


@bp.route("/projects/<project_uuid>/clips/<clip_uuid>", methods=["GET"], tags=[CLIPS])
@relays(ResembleClipAnswer)
def get_clip(project_uuid: str, clip_uuid: str) -> Response:
    """Get a clip."""
    return call(
        "clip", "GET", f"projects/{project_uuid}/clips/{clip_uuid}", route_id=clip_uuid
    )
