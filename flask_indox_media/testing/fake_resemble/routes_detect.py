"""Deepfake detection and its secure uploads."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .web import ApiError, json_body, now, the_fake

bp = Blueprint("fake_detect", __name__, url_prefix="/api/v2")


@bp.post("/secure_uploads")
def secure_upload() -> Response:
    """Keep an uploaded file; answer a token that ``detect`` accepts as
    ``media_token``."""
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "file is required")
    data = upload.read()
    if not data:
        raise ApiError(400, "file is empty")
    token = "sut_" + secrets.token_hex(12)
    the_fake().uploads[token] = (
        data,
        upload.mimetype or "application/octet-stream",
        upload.filename or "upload",
    )
    return jsonify(success=True, token=token)


def _detection(uuid: str, job: dict[str, Any], done: bool) -> dict[str, Any]:
    metrics = {
        "label": "fake",
        "score": ["0.91", "0.88"],
        "consistency": "0.95",
        "aggregated_score": "0.9",
    }
    return {
        "uuid": uuid,
        "media_type": "audio",
        "status": "completed" if done else "processing",
        "metrics": metrics if done else None,
        "url": job["url"],
        "audio_url": job["url"],
        "filename": job["filename"],
        "duration": 0.5 if done else None,
        "zero_retention_mode": job["zero_retention_mode"],
        "created_at": job["created_at"],
        "updated_at": job["created_at"],
    }


@bp.post("/detect")
def detect() -> Response:
    """Start a detection of ``url`` or ``media_token``; ``Prefer: wait``
    answers it finished, and a ``callback_url`` hears when it is."""
    fake, body = the_fake(), json_body()
    url, token = body.get("url"), body.get("media_token")
    if bool(url) == bool(token):
        raise ApiError(400, "exactly one of url or media_token is required")
    filename = str(url).rsplit("/", 1)[-1] if url else None
    if token:
        if token not in fake.uploads:
            raise ApiError(400, "media_token is unknown or expired")
        filename = fake.uploads[token][2]
    uuid = fake.new_id("det-")
    job = fake.jobs[uuid] = {
        "kind": "detect",
        "polls": 0,
        "url": url,
        "filename": filename,
        "zero_retention_mode": bool(body.get("zero_retention_mode", False)),
        "created_at": now(),
    }
    wait = request.headers.get("Prefer") == "wait"
    if wait or body.get("callback_url"):
        job["done"] = True
    if body.get("callback_url"):
        payload = {"success": True, "item": _detection(uuid, job, True)}
        fake.callbacks.send(body["callback_url"], payload)
    return jsonify(success=True, item=_detection(uuid, job, wait))


@bp.get("/detect/<uuid>")
def get_detection(uuid: str) -> Response:
    job, done = the_fake().poll_job(uuid)
    if job.get("kind") != "detect":
        raise ApiError(404, f"detection {uuid} not found")
    return jsonify(success=True, item=_detection(uuid, job, done))
