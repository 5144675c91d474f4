"""Plain records: projects, phonemes and term substitutions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from .web import found, json_body, paginate, require, the_fake

bp = Blueprint("fake_catalog", __name__, url_prefix="/api/v2")

_PROJECT_FIELDS = ("name", "description", "is_collaborative", "is_archived")


def _create(
    store: dict[str, dict[str, Any]], prefix: str, fields: tuple[str, ...]
) -> Response:
    """A new record with ``fields`` copied from the JSON body."""
    fake, body = the_fake(), json_body()
    uuid = fake.new_id(prefix)
    item = fake.stamp({"uuid": uuid, **{f: body.get(f) for f in fields}})
    store[uuid] = item
    return jsonify(success=True, item=item)


def _delete(store: dict[str, dict[str, Any]], uuid: str, what: str) -> Response:
    found(store, uuid, what)
    del store[uuid]
    return jsonify(success=True)


@bp.get("/projects")
def list_projects() -> Response:
    return paginate(list(the_fake().projects.values()))


@bp.post("/projects")
def create_project() -> Response:
    require(json_body(), "name")
    return _create(the_fake().projects, "proj-", _PROJECT_FIELDS)


@bp.get("/projects/<uuid>")
def get_project(uuid: str) -> Response:
    return jsonify(success=True, item=found(the_fake().projects, uuid, "project"))


@bp.route("/projects/<uuid>", methods=["PUT", "PATCH"])
def update_project(uuid: str) -> Response:
    fake, body = the_fake(), json_body()
    item = found(fake.projects, uuid, "project")
    item.update({f: body[f] for f in _PROJECT_FIELDS if f in body})
    fake.stamp(item)
    return jsonify(success=True, item=item)


@bp.delete("/projects/<uuid>")
def delete_project(uuid: str) -> Response:
    return _delete(the_fake().projects, uuid, "project")


@bp.get("/phonemes")
def list_phonemes() -> Response:
    return paginate(list(the_fake().phonemes.values()))


@bp.post("/phonemes")
def create_phoneme() -> Response:
    require(json_body(), "word", "phonetic_transcription")
    return _create(the_fake().phonemes, "ph-", ("word", "phonetic_transcription"))


@bp.delete("/phonemes/<uuid>")
def delete_phoneme(uuid: str) -> Response:
    return _delete(the_fake().phonemes, uuid, "phoneme")


@bp.get("/term_substitutions")
def list_term_substitutions() -> Response:
    return paginate(list(the_fake().term_substitutions.values()))


@bp.post("/term_substitutions")
def create_term_substitution() -> Response:
    require(json_body(), "original_text", "replacement_text")
    return _create(
        the_fake().term_substitutions, "ts-", ("original_text", "replacement_text")
    )


@bp.delete("/term_substitutions/<uuid>")
def delete_term_substitution(uuid: str) -> Response:
    return _delete(the_fake().term_substitutions, uuid, "term substitution")
