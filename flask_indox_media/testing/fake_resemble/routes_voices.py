"""Voices, their recordings, and voice design."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from ..audio import wav_bytes
from .web import ApiError, form_bool, found, json_body, paginate, require, the_fake

if TYPE_CHECKING:
    from .core import FakeResemble

bp = Blueprint("fake_voices", __name__, url_prefix="/api/v2")


def _voice(fake: FakeResemble, name: str, voice_type: str) -> dict[str, Any]:
    uuid = fake.new_id("voice-")
    return fake.stamp(
        {
            "uuid": uuid,
            "name": name,
            "status": "finished",
            "default_language": "en-US",
            "supported_languages": ["en-US"],
            "voice_type": voice_type,
            "dataset_url": None,
            "callback_uri": None,
            "component_status": {
                "text_to_speech": {"status": "ready"},
                "speech_to_speech": {"status": "ready"},
                "fill": {"status": "ready"},
            },
            "api_support": {
                "sync": True,
                "async": True,
                "direct_synthesis": True,
                "streaming": True,
            },
            "source": "Custom Voice",
        }
    )


def seed_voice(fake: FakeResemble, name: str) -> None:
    """A finished voice the fake starts with (``voice-1``, ``voice-2``)."""
    voice = _voice(fake, name, "rapid")
    fake.voices[voice["uuid"]] = voice


def _shown(voice: dict[str, Any]) -> dict[str, Any]:
    """The voice as answered, with a sample URL when ``sample_url`` is asked."""
    if form_bool(request.args.get("sample_url"), False):
        fake = the_fake()
        sample = voice.get("_sample")
        if sample is None:
            sample = voice["_sample"] = fake.add_file(
                wav_bytes(0.3, frequency=350), "audio/wav", "wav"
            )
        return {**_public(voice), "sample_url": sample}
    return _public(voice)


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


@bp.get("/voices")
def list_voices() -> Response:
    return paginate([_shown(v) for v in the_fake().voices.values()])


@bp.get("/voices/<uuid>")
def get_voice(uuid: str) -> Response:
    return jsonify(success=True, item=_shown(found(the_fake().voices, uuid, "voice")))


@bp.post("/voices")
def create_voice() -> Response:
    fake, body = the_fake(), json_body()
    require(body, "name")
    if body.get("consent"):
        try:
            base64.b64decode(body["consent"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "consent must be base64-encoded audio") from None
    voice = _voice(fake, body["name"], body.get("voice_type", "rapid"))
    voice.update(
        status="initializing",
        dataset_url=body.get("dataset_url"),
        callback_uri=body.get("callback_uri"),
    )
    fake.voices[voice["uuid"]] = voice
    return jsonify(success=True, item=_public(voice))


@bp.put("/voices/<uuid>")
@bp.patch("/voices/<uuid>")
def update_voice(uuid: str) -> Response:
    fake, body = the_fake(), json_body()
    voice = found(fake.voices, uuid, "voice")
    for field in ("name", "dataset_url"):
        if field in body:
            voice[field] = body[field]
    fake.stamp(voice)
    return jsonify(success=True, item=_public(voice))


@bp.post("/voices/<uuid>/build")
def build_voice(uuid: str) -> Response:
    """Training is instant here: the voice is finished, and its
    ``callback_uri`` (if any) hears so."""
    fake = the_fake()
    voice = found(fake.voices, uuid, "voice")
    voice["status"] = "finished"
    if voice.get("callback_uri"):
        fake.callbacks.send(
            voice["callback_uri"], {"success": True, "item": _public(voice)}
        )
    return jsonify(success=True, message="Voice build started")


@bp.delete("/voices/<uuid>")
def delete_voice(uuid: str) -> Response:
    fake = the_fake()
    found(fake.voices, uuid, "voice")
    del fake.voices[uuid]
    return jsonify(success=True)


# Recordings: their voice need not exist, so a test can skip creating one.


def _recording(v: str, r: str) -> dict[str, Any]:
    fake = the_fake()
    item = found(fake.recordings, r, "recording")
    if fake.recording_voices.get(r, v) != v:
        raise ApiError(404, f"recording {r} not found")
    return item


@bp.get("/voices/<v>/recordings")
def list_recordings(v: str) -> Response:
    fake = the_fake()
    return paginate(
        [
            item
            for uuid, item in fake.recordings.items()
            if fake.recording_voices.get(uuid, v) == v
        ]
    )


@bp.post("/voices/<v>/recordings")
def create_recording(v: str) -> Response:
    fake = the_fake()
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "file is required")
    data = upload.read()
    if not data:
        raise ApiError(400, "file is empty")
    ext = (upload.filename or "a.wav").rsplit(".", 1)[-1].lower() or "wav"
    uuid = fake.new_id("rec-")
    item = fake.stamp(
        {
            "uuid": uuid,
            "name": request.form.get("name"),
            "text": request.form.get("text"),
            "emotion": request.form.get("emotion"),
            "fill": form_bool(request.form.get("fill"), False),
            "is_active": form_bool(request.form.get("is_active"), True),
            "audio_src": fake.add_file(data, upload.mimetype or "audio/wav", ext),
        }
    )
    fake.recordings[uuid] = item
    fake.recording_voices[uuid] = v
    return jsonify(success=True, item=item)


@bp.get("/voices/<v>/recordings/<r>")
def get_recording(v: str, r: str) -> Response:
    return jsonify(success=True, item=_recording(v, r))


@bp.route("/voices/<v>/recordings/<r>", methods=["PUT", "PATCH"])
def update_recording(v: str, r: str) -> Response:
    item, body = _recording(v, r), json_body()
    for field in ("name", "text", "emotion", "is_active", "fill"):
        if field in body:
            item[field] = body[field]
    the_fake().stamp(item)
    return jsonify(success=True, item=item)


@bp.delete("/voices/<v>/recordings/<r>")
def delete_recording(v: str, r: str) -> Response:
    _recording(v, r)
    del the_fake().recordings[r]
    return jsonify(success=True)


# Voice design (used by the gateway; not in the SDK).


@bp.post("/voice-design")
def voice_design() -> Response:
    fake = the_fake()
    uuid = fake.new_id("vd-")
    candidates = [
        {
            # Resemble's candidate URLs expire after 4 hours.
            "audio_url": fake.add_file(
                wav_bytes(0.3, frequency=300 + 100 * i), "audio/wav", "wav"
            )
            + "?expires=4h",
            "voice_sample_index": i,
            "uuid": uuid,
        }
        for i in range(3)
    ]
    return jsonify(voice_candidates=candidates)


@bp.post("/voice-design/<uuid>/<int:index>/create_rapid_voice")
def promote(uuid: str, index: int) -> Response:
    fake = the_fake()
    voice = _voice(fake, request.form.get("voice_name") or f"Designed {uuid}", "rapid")
    fake.voices[voice["uuid"]] = voice
    return jsonify(success=True, voice_uuid=voice["uuid"])
