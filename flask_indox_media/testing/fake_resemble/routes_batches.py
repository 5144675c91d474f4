"""Batch synthesis: many clips from one request, finished after
``polls_until_done`` GETs, or at once when a ``callback_uri`` waits for them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from .synthesis import make_clip
from .web import ApiError, found, json_body, paginate, require, the_fake

bp = Blueprint("fake_batches", __name__, url_prefix="/api/v2")


def _texts(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    """The batch ``body``: strings, or ``[title, ssml]`` pairs."""
    texts = body.get("body")
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, "body must be a non-empty array")
    out: list[tuple[str | None, str]] = []
    for entry in texts:
        if isinstance(entry, str):
            out.append((None, entry))
        elif isinstance(entry, list) and len(entry) == 2:
            out.append((str(entry[0]), str(entry[1])))
        else:
            raise ApiError(400, "each body entry is a string or a [title, ssml] pair")
    return out


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    hidden = ("polls", "done")
    return {k: v for k, v in batch.items() if not k.startswith("_") and k not in hidden}


def _finish(batch: dict[str, Any]) -> None:
    """Synthesize every clip of ``batch`` (once) and send its callback."""
    if batch.get("done"):
        return
    fake = the_fake()
    request = batch["_request"]
    clips = [
        make_clip(fake, batch["_project"], {**request, "title": title}, text)[0]
        for title, text in batch["_texts"]
    ]
    batch.update(done=True, completed_count=len(clips), clips=clips)
    fake.stamp(batch)
    if request.get("callback_uri"):
        fake.callbacks.send(request["callback_uri"], _public(batch))


def _batch(p: str, b: str) -> dict[str, Any]:
    batch = found(the_fake().batches, b, "batch")
    if batch["_project"] != p:
        raise ApiError(404, f"batch {b} not found")
    return batch


@bp.get("/projects/<p>/batch")
def list_batches(p: str) -> Response:
    batches = the_fake().batches.values()
    return paginate([_public(b) for b in batches if b["_project"] == p])


@bp.post("/projects/<p>/batch")
def create_batch(p: str) -> Response:
    fake, body = the_fake(), json_body()
    require(body, "voice_uuid")
    texts = _texts(body)
    batch = fake.stamp(
        {
            "uuid": fake.new_id("batch-"),
            "body": body["body"],
            "voice_uuid": body["voice_uuid"],
            "total_count": len(texts),
            "completed_count": 0,
            "failed_count": 0,
            "_project": p,
            "_texts": texts,
            "_request": {k: v for k, v in body.items() if k != "body"},
        }
    )
    fake.batches[batch["uuid"]] = batch
    answer = _public(batch)
    if body.get("callback_uri"):
        _finish(batch)
    return jsonify(success=True, item=answer)


@bp.get("/projects/<p>/batch/<b>")
def get_batch(p: str, b: str) -> Response:
    batch = _batch(p, b)
    if the_fake().progress(batch):
        _finish(batch)
    return jsonify(success=True, item=_public(batch))


@bp.delete("/projects/<p>/batch/<b>")
def delete_batch(p: str, b: str) -> Response:
    _batch(p, b)
    del the_fake().batches[b]
    return jsonify(success=True)
