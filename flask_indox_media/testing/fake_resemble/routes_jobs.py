"""Async audio jobs the gateway calls: speech-to-text, enhancement, edit and
watermarking. Each finishes after ``polls_until_done`` GETs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..audio import wav_bytes
from .web import ApiError, json_body, paginate, the_fake

bp = Blueprint("fake_jobs", __name__, url_prefix="/api/v2")


def _stt_item(uuid: str, job: dict[str, Any], done: bool) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "status": "completed" if done else "processing",
        "text": "hello world" if done else None,
        "words": (
            [
                {"text": "hello", "start_time": 0.0, "end_time": 0.2, "speaker_id": 0},
                {
                    "text": "world",
                    "start_time": 0.25,
                    "end_time": 0.45,
                    "speaker_id": 0,
                },
            ]
            if done
            else None
        ),
        "duration_seconds": 0.5 if done else None,
        "file_url": job["file_url"],
    }


@bp.post("/speech-to-text")
def stt() -> Response:
    fake = the_fake()
    upload = request.files.get("file")
    fields: dict[str, Any] = request.form.to_dict() if upload else json_body()
    if upload is not None:
        fields["url"] = fake.add_file(
            upload.read(), upload.mimetype or "audio/wav", "wav"
        )
    if not fields.get("url"):
        raise ApiError(400, "one of file, url or audio_token is required")
    uuid = fake.new_id("stt-")
    job = fake.jobs[uuid] = {"kind": "stt", "polls": 0, "file_url": fields["url"]}
    callback = fields.get("callback_url")
    if callback:
        # A job with a callback finishes on its own; no poll is needed.
        job["done"] = True
        fake.callbacks.send(
            callback, {"success": True, "item": _stt_item(uuid, job, True)}
        )
    return jsonify(
        success=True, item={**_stt_item(uuid, job, False), "status": "pending"}
    )


@bp.get("/speech-to-text/<uuid>")
def get_stt(uuid: str) -> Response:
    job, done = the_fake().poll_job(uuid)
    return jsonify(success=True, item=_stt_item(uuid, job, done))


def start_job(kind: str, field: str) -> str:
    """A job on the uploaded file ``field``; returns its uuid."""
    fake = the_fake()
    upload = request.files.get(field)
    if upload is None:
        raise ApiError(400, f"{field} is required")
    uuid = fake.new_id(kind + "-")
    data = upload.read()
    fake.jobs[uuid] = {
        "kind": kind,
        "polls": 0,
        "input": data,
        "input_url": fake.add_file(data, upload.mimetype or "audio/wav", "wav"),
        "form": request.form.to_dict(),
    }
    return uuid


def result_url(job: dict[str, Any]) -> str:
    """The job's output, stored once; its URL is signed anew on each poll."""
    fake = the_fake()
    url = fake.once(
        job,
        "file",
        lambda: fake.add_file(wav_bytes(0.4, frequency=660), "audio/wav", "wav"),
    )
    # A signed, expiring URL: a fresh query string on every poll.
    return f"{url}?signature={job['polls']}"


def _jobs(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(u, j) for u, j in the_fake().jobs.items() if j.get("kind") == kind]


@bp.post("/audio_enhancements")
def enhance() -> Response:
    uuid = start_job("enh", "audio_file")
    response = jsonify(success=True, uuid=uuid, status="pending")
    response.status_code = 202
    return response


def _enhancement(uuid: str, job: dict[str, Any], done: bool) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "status": "completed" if done else "processing",
        "original_audio_url": job["input_url"],
        "enhanced_audio_url": result_url(job) if done else None,
        "error_message": None,
    }


@bp.get("/audio_enhancements")
def list_enhancements() -> Response:
    fake = the_fake()
    return paginate([_enhancement(u, j, fake.is_done(j)) for u, j in _jobs("enh")])


@bp.get("/audio_enhancements/<uuid>")
def get_enhance(uuid: str) -> Response:
    job, done = the_fake().poll_job(uuid)
    item = _enhancement(uuid, job, done)
    del item["original_audio_url"]
    return jsonify(success=True, **item)


def _edit_item(uuid: str, job: dict[str, Any], done: bool) -> dict[str, Any]:
    item = {"uuid": uuid, **job["form"], "input_audio_url": job["input_url"]}
    if done:
        item["result_audio_url"] = result_url(job)
    return item


@bp.post("/edit")
def edit() -> Response:
    uuid = start_job("edit", "input_audio")
    return jsonify(success=True, item=_edit_item(uuid, the_fake().jobs[uuid], False))


@bp.get("/edit")
def list_edits() -> Response:
    fake = the_fake()
    return paginate([_edit_item(u, j, fake.is_done(j)) for u, j in _jobs("edit")])


@bp.get("/edit/<uuid>")
def get_edit(uuid: str) -> Response:
    job, done = the_fake().poll_job(uuid)
    return jsonify(success=True, item=_edit_item(uuid, job, done))


@bp.post("/watermark/apply")
def watermark() -> Response:
    fake, body = the_fake(), json_body()
    uuid = fake.new_id("wm-")
    job = fake.jobs[uuid] = {"kind": "wm", "polls": 0, "url": body.get("url")}
    wait = request.headers.get("Prefer") == "wait"
    return jsonify(
        success=True,
        item={
            "uuid": uuid,
            "media_type": "audio",
            "source_media_url": body.get("url"),
            "watermarked_media": result_url(job) if wait else None,
            "metrics": None,
        },
    )


@bp.get("/watermark/apply/<uuid>/result")
def get_watermark(uuid: str) -> Response:
    job, done = the_fake().poll_job(uuid)
    return jsonify(
        success=True,
        item={
            "uuid": uuid,
            "media_type": "audio",
            "source_media_url": job["url"],
            "watermarked_media": result_url(job) if done else None,
        },
    )


@bp.post("/watermark/detect")
def watermark_detect() -> Response:
    fake = the_fake()
    uuid = fake.new_id("wmd-")
    fake.jobs[uuid] = {"kind": "wmd", "polls": 0}
    return jsonify(success=True, item={"uuid": uuid, "metrics": None})


@bp.get("/watermark/detect/<uuid>/result")
def get_watermark_detect(uuid: str) -> Response:
    the_fake().poll_job(uuid)
    return jsonify(
        success=True, item={"uuid": uuid, "metrics": {"has_watermark": True}}
    )
