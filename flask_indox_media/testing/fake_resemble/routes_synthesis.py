"""Speech: direct synthesis, streaming, project clips and batches.

Clip and batch routes accept any project uuid (and any voice uuid), so a
test need not create a project first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify

from ..audio import wav_bytes
from .synthesis import (
    CLIP_SECONDS,
    encoded,
    make_audio,
    make_clip,
    output_format,
    timestamps,
)
from .web import ApiError, found, json_body, now, paginate, require, the_fake

bp = Blueprint("fake_synthesis", __name__)

#: Bytes per chunk of a streamed response: several chunks for one clip.
STREAM_CHUNK = 4096


@bp.post("/synthesize")
def synthesize() -> Response:
    """Direct synthesis: the audio inline, base64."""
    body = json_body()
    if not body.get("data") or not body.get("voice_uuid"):
        response = jsonify(success=False, issues=["data and voice_uuid are required"])
        response.status_code = 400
        return response
    fmt = output_format(body)
    data, _ = make_audio(the_fake(), fmt)
    return jsonify(
        success=True,
        audio_content=encoded(data),
        audio_timestamps=timestamps(body["data"]),
        duration=CLIP_SECONDS,
        synth_duration=0.01,
        output_format=fmt,
        sample_rate=body.get("sample_rate", 22050),
        seed=0,
        title=body.get("title"),
        issues=[],
    )


@bp.post("/stream")
def stream() -> Response:
    """HTTP streaming: a chunked WAV, its 44-byte header first, then PCM16."""
    body = json_body()
    require(body, "voice_uuid", "data")
    rate = int(body.get("sample_rate") or 22050)
    audio = wav_bytes(CLIP_SECONDS, rate=rate)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(audio), STREAM_CHUNK):
            yield audio[start : start + STREAM_CHUNK]

    # No Content-Length: the server sends it chunked, as Resemble does.
    return Response(chunks(), content_type="audio/wav")


# Clips ------------------------------------------------------------------------


def _clip(p: str, c: str) -> dict[str, Any]:
    fake = the_fake()
    item = found(fake.clips, c, "clip")
    if fake.clip_projects.get(c, p) != p:
        raise ApiError(404, f"clip {c} not found")
    return item


def _clip_callback(p: str, clip: dict[str, Any], url: str) -> None:
    """Send the clip's callback: its id, project and (1-hour) audio URL."""
    payload = {
        "id": clip["uuid"],
        "project_id": p,
        "url": clip["audio_src"],
        "audio_timestamps": timestamps(clip["body"]),
        "issues": [],
    }
    the_fake().callbacks.send(url, payload)


@bp.get("/api/v2/projects/<p>/clips")
def list_clips(p: str) -> Response:
    fake = the_fake()
    return paginate(
        [c for u, c in fake.clips.items() if fake.clip_projects.get(u, p) == p]
    )


@bp.post("/api/v2/projects/<p>/clips")
def create_clip(p: str) -> Response:
    """Synchronous, or asynchronous with ``callback_uri``: then the answer
    carries no audio and the callback does."""
    body = json_body()
    require(body, "body", "voice_uuid")
    clip, data = make_clip(the_fake(), p, body, body["body"])
    if body.get("callback_uri"):
        _clip_callback(p, clip, body["callback_uri"])
        return jsonify(
            success=True, item={k: v for k, v in clip.items() if k != "audio_src"}
        )
    item = dict(clip)
    if body.get("include_timestamps"):
        item["timestamps"] = timestamps(clip["body"])
    if body.get("raw"):
        item["raw_audio"] = encoded(data)
    return jsonify(success=True, item=item)


@bp.get("/api/v2/projects/<p>/clips/<c>")
def get_clip(p: str, c: str) -> Response:
    return jsonify(success=True, item=_clip(p, c))


@bp.route("/api/v2/projects/<p>/clips/<c>", methods=["PUT", "PATCH"])
def update_clip(p: str, c: str) -> Response:
    """Re-synthesize a clip; asynchronous only, as upstream: the new audio
    goes to ``callback_uri``."""
    fake, body = the_fake(), json_body()
    clip = _clip(p, c)
    require(body, "callback_uri")
    for field in ("title", "body", "voice_uuid", "is_archived"):
        if field in body:
            clip[field] = body[field]
    _, clip["audio_src"] = make_audio(fake, output_format(body))
    clip["updated_at"] = clip["last_generated_at"] = now()
    clip["character_count"] = len(clip["body"] or "")
    _clip_callback(p, clip, body["callback_uri"])
    return jsonify(
        success=True, item={k: v for k, v in clip.items() if k != "audio_src"}
    )


@bp.delete("/api/v2/projects/<p>/clips/<c>")
def delete_clip(p: str, c: str) -> Response:
    _clip(p, c)
    fake = the_fake()
    del fake.clips[c]
    fake.clip_projects.pop(c, None)
    return jsonify(success=True)
