"""The OpenAPI document: served, valid, complete, and true to the answers."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_smorest import Api
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from flask_indox_media import IndoxMedia
from flask_indox_media.testing import wav_bytes
from flask_indox_media.web.openapi import SECURITY_SCHEMES, TAGS
from tests.conftest import ALICE, create_clip

P = "/api/v1/resemble"
ASSET_FIELDS = {"asset_id", "asset_class", "audio_url", "expires_at", "resemble_url"}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def client(gateway: Flask) -> FlaskClient:
    return gateway.test_client()


@pytest.fixture
def doc(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"{P}/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def deref(doc: dict[str, Any], node: Any) -> Any:
    """``node`` with its top-level reference followed."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].split("/")[1:]:
            target = target[part]
        node = target
    return node


def properties(doc: dict[str, Any], schema: Any) -> set[str]:
    """Every property name a schema names, through references and allOf."""
    schema = deref(doc, schema)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= properties(doc, part)
    return names


def success_schema(doc: dict[str, Any], operation: dict[str, Any]) -> Any:
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            content = deref(doc, response).get("content", {})
            # JSON, or the audio of a streaming route.
            return next(iter(content.values()), {}).get("schema")
    return None


# The document, served ----------------------------------------------------------


def test_the_document_is_served_and_valid(doc: dict[str, Any]) -> None:
    validate(doc)
    assert doc["openapi"].startswith("3.")


def test_swagger_ui_is_served(client: FlaskClient) -> None:
    page = client.get(f"{P}/docs")
    assert page.status_code == 200
    assert f"{P}/openapi.json".encode() in page.data


def test_the_switch_turns_the_document_off(make_gateway: Callable[..., Flask]) -> None:
    client = make_gateway({"INDOX_MEDIA_OPENAPI": False}).test_client()
    assert client.get(f"{P}/openapi.json").status_code == 404
    assert client.get(f"{P}/docs").status_code == 404


def test_a_hosts_own_api_keeps_its_settings(tmp_path: Any) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    app.config.update(
        SECRET_KEY="s",
        API_TITLE="Host",
        API_VERSION="2",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/spec",
    )
    api = Api(app)
    api.spec.components.security_scheme(
        "gatewayBearer", {"type": "http", "scheme": "bearer"}
    )
    IndoxMedia(app, api=api)
    assert "OPENAPI_SWAGGER_UI_PATH" not in app.config
    client = app.test_client()
    assert client.get(f"{P}/openapi.json").status_code == 404
    spec = client.get("/spec/openapi.json").get_json()
    validate(spec)
    assert spec["info"]["title"] == "Host"
    assert f"{P}/tts/synthesize" in spec["paths"]
    assert set(SECURITY_SCHEMES) <= set(spec["components"]["securitySchemes"])


# The document, complete --------------------------------------------------------


def test_every_operation_documents_a_success_schema(doc: dict[str, Any]) -> None:
    ops = list(operations(doc))
    assert len(ops) > 30
    for method, path, operation in ops:
        codes = [c for c in operation["responses"] if c[0] in "23"]
        assert codes, (method, path)
        if codes[0] in ("204", "302"):
            continue
        assert success_schema(doc, operation), (method, path)
    redirect = doc["paths"][f"{P}/media/{{asset_id}}/audio"]["get"]["responses"]
    assert "302" in redirect


@pytest.mark.parametrize(
    ("method", "path", "where"),
    [
        ("post", "/tts/synthesize", "top"),
        ("get", "/enhance/{job_id}", "top"),
        ("get", "/projects/{project_uuid}/clips/{clip_uuid}", "item"),
        ("post", "/projects/{project_uuid}/clips", "item"),
        ("get", "/projects/{project_uuid}/clips", "items"),
        ("get", "/voices/{voice_uuid}/recordings/{recording_uuid}", "item"),
        ("get", "/edit/{job_id}", "item"),
        ("get", "/watermark/apply/{job_id}", "item"),
        ("get", "/stt/{job_id}", "item"),
        ("post", "/voice-design/candidates", "voice_candidates"),
        ("post", "/uploads", "top"),
        ("get", "/media/{asset_id}", "top"),
        ("get", "/media", "list"),
    ],
)
def test_asset_fields_are_documented(
    doc: dict[str, Any], method: str, path: str, where: str
) -> None:
    schema = deref(doc, success_schema(doc, doc["paths"][P + path][method]))
    if where == "list":
        schema = schema["items"]
    elif where != "top":
        holder = deref(doc, schema)["properties"][where]
        schema = holder.get("items", holder)
    assert ASSET_FIELDS <= properties(doc, schema)


def test_the_asset_fields_are_described_once(doc: dict[str, Any]) -> None:
    text = json.dumps(doc["components"]["schemas"])
    assert text.count('"resemble_url"') == 1
    assert "Asset" in doc["components"]["schemas"]


def test_upload_body_is_multipart(doc: dict[str, Any]) -> None:
    body = doc["paths"][f"{P}/uploads"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {
        **schema["properties"]["file"],
        "type": "string",
        "format": "binary",
    }
    assert set(schema["properties"]["purpose"]["enum"]) == {
        "voice_clone",
        "stt_input",
        "watermark_input",
        "audio_job_input",
    }
    assert schema["required"] == ["file"]


def test_errors_have_the_error_shape(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "message", "errors"} <= set(error)
    for _, path, operation in operations(doc):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                schema = deref(doc, response)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)


def test_security_schemes_apply_to_every_route_but_the_callback(
    doc: dict[str, Any],
) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["gatewayBearer"] == {
        **schemes["gatewayBearer"],
        "type": "http",
        "scheme": "bearer",
    }
    token = schemes["gatewaySdkToken"]
    assert (token["type"], token["in"], token["name"]) == (
        "apiKey",
        "header",
        "Authorization",
    )
    for _, path, operation in operations(doc):
        # Both authenticate with a signed token in the path, not an API key.
        if path.startswith((f"{P}/callbacks/", f"{P}/play/")):
            assert "security" not in operation
        else:
            assert operation["security"] == [
                {"gatewayBearer": []},
                {"gatewaySdkToken": []},
            ], path


def test_tags_are_the_areas(doc: dict[str, Any]) -> None:
    used = {t for _, _, op in operations(doc) for t in op["tags"]}
    assert used == set(TAGS)
    assert {
        "TTS",
        "Voices",
        "Voice design",
        "STT",
        "Audio jobs",
        "Watermark",
        "Projects and clips",
        "Uploads",
        "Media",
    } <= used
    declared = {t["name"] for t in doc["tags"]}
    assert set(TAGS) <= declared


def test_summaries_are_plain_text(doc: dict[str, Any]) -> None:
    markup = re.compile(r"``|:data:|:class:|:mod:|:func:|:meth:")
    for method, path, operation in operations(doc):
        assert operation.get("summary"), (method, path)
        for key in ("summary", "description"):
            assert not markup.search(operation.get(key, "")), (method, path, key)
    for tag in doc["tags"]:
        assert not markup.search(tag.get("description", ""))


# The answers, true to the document ----------------------------------------------


def check(doc: dict[str, Any], method: str, path: str, response: Any) -> None:
    """``response`` has a documented status, and a body its schema allows."""
    operation = doc["paths"][path][method]
    status = str(response.status_code)
    assert 200 <= response.status_code < 300, (method, path, response.data[:300])
    assert status in operation["responses"], (method, path, status)
    schema = deref(doc, operation["responses"][status]).get("content", {})
    if not schema:
        return
    if "application/json" not in schema:  # audio, streamed
        assert response.mimetype in schema, (method, path, response.mimetype)
        return
    body_schema = schema["application/json"]["schema"]
    OAS30Validator({"allOf": [body_schema], "components": doc["components"]}).validate(
        response.get_json()
    )


def test_every_operation_answers_as_documented(
    client: FlaskClient, doc: dict[str, Any], fake: Any
) -> None:
    seen: set[tuple[str, str]] = set()

    def call(method: str, template: str, url: str, **kwargs: Any) -> Any:
        headers = {**ALICE, **kwargs.pop("headers", {})}
        response = client.open(
            P + url, method=method.upper(), headers=headers, **kwargs
        )
        check(doc, method, P + template, response)
        seen.add((method, P + template))
        return response.get_json(silent=True)

    clip = create_clip(client)
    audio = clip["audio_src"]
    call(
        "post",
        "/tts/synthesize",
        "/tts/synthesize",
        json={"voice_uuid": "voice-1", "text": "hi"},
    )
    call(
        "post",
        "/synthesize",
        "/synthesize",
        json={"voice_uuid": "voice-1", "data": "hi"},
    )
    call("post", "/tts/stream", "/tts/stream", json={"voice_uuid": "v1", "text": "hi"})
    call(
        "post",
        "/stream",
        "/stream",
        json={"project_uuid": "p", "voice_uuid": "v1", "data": "hi"},
    )
    call("get", "/tts/voices", "/tts/voices")
    call("get", "/tts/voices/{voice_uuid}", "/tts/voices/voice-1")
    voice = call("post", "/voices", "/voices", json={"name": "Mine"})["item"]["uuid"]
    call("post", "/voices/{voice_uuid}/build", f"/voices/{voice}/build", json={})
    recs = "/voices/{voice_uuid}/recordings"
    rec = call(
        "post",
        recs,
        f"/voices/{voice}/recordings",
        json={"fields": {"audio_url": audio, "name": "n", "text": "t"}},
    )["item"]["uuid"]
    call("get", recs, f"/voices/{voice}/recordings")
    one = recs + "/{recording_uuid}"
    call("get", one, f"/voices/{voice}/recordings/{rec}")
    call(
        "put", one, f"/voices/{voice}/recordings/{rec}", json={"fields": {"name": "m"}}
    )
    call("delete", one, f"/voices/{voice}/recordings/{rec}")
    call("delete", "/voices/{voice_uuid}", f"/voices/{voice}")
    call(
        "post",
        "/voice-design/candidates",
        "/voice-design/candidates",
        json={"description": "warm"},
    )
    call(
        "post",
        "/voice-design/{design_uuid}/promote",
        "/voice-design/vd-1/promote",
        json={"candidate_index": 0, "name": "N"},
    )
    for route, body in (
        ("stt", {"audio_url": audio}),
        ("enhance", {"audio_url": audio}),
        (
            "edit",
            {
                "audio_url": audio,
                "original_transcript": "a",
                "target_transcript": "b",
                "voice_uuid": "v",
            },
        ),
        ("watermark/apply", {"audio_url": audio}),
        ("watermark/detect", {"audio_url": audio}),
    ):
        job = call("post", f"/{route}", f"/{route}", json=body)
        job_id = job["item"]["uuid"] if "item" in job else job["uuid"]
        for _ in range(2):  # running, then done (with its audio mirrored)
            done = call("get", f"/{route}/{{job_id}}", f"/{route}/{job_id}")
    assert ASSET_FIELDS <= set(done["item"]) or route == "watermark/detect"
    clips = "/projects/{project_uuid}/clips"
    call("post", clips, "/projects/p/clips", json={"voice_uuid": "v", "body": "x"})
    call("get", clips, "/projects/p/clips")
    call("get", clips + "/{clip_uuid}", f"/projects/p/clips/{clip['uuid']}")
    call(
        "post",
        clips,
        "/projects/p/clips",
        json={
            "voice_uuid": "v",
            "body": "y",
            "callback_uri": "https://example.com/hook",
        },
    )
    callback_url, payload = fake.pending_callbacks[-1]
    token = callback_url.rsplit("/", 1)[1]
    call(
        "post",
        "/callbacks/{token}",
        f"/callbacks/{token}",
        json=payload,
        headers={"Authorization": ""},
    )
    upload = "/uploads"
    call(
        "post",
        upload,
        upload,
        data={"file": (io.BytesIO(wav_bytes(0.1)), "a.wav"), "purpose": "stt_input"},
    )
    assets = call("get", "/media", "/media")
    asset_id = assets[0]["asset_id"]
    call("get", "/media/{asset_id}", f"/media/{asset_id}")
    assert client.get(f"{P}/media/{asset_id}/audio", headers=ALICE).status_code == 302
    seen.add(("get", f"{P}/media/{{asset_id}}/audio"))
    assert client.get(assets[0]["playback_url"]).status_code == 302
    seen.add(("get", f"{P}/play/{{token}}"))
    native = "/v2/{path}"
    call("get", native, "/v2/voices")
    v2clip = call(
        "post", native, "/v2/projects/p/clips", json={"voice_uuid": "v", "body": "z"}
    )["item"]["uuid"]
    call("delete", native, f"/v2/projects/p/clips/{v2clip}")
    project = call(
        "post", native, "/v2/projects", json={"name": "P", "description": "d"}
    )
    uuid = project["item"]["uuid"]
    call("put", native, f"/v2/projects/{uuid}", json={"name": "Q"})
    call("patch", native, f"/v2/projects/{uuid}", json={"name": "R"})
    call("delete", "/media/{asset_id}", f"/media/{asset_id}")
    assert seen == {(m, p) for m, p, _ in operations(doc)}


def test_relayed_bodies_are_not_reserialized(client: FlaskClient) -> None:
    """The documenting decorators leave the relay's JSON as it is: a field no
    schema names (the fake's seed and title) is kept, beside the asset's."""
    body = client.post(
        f"{P}/tts/synthesize",
        json={"voice_uuid": "voice-1", "text": "hi"},
        headers=ALICE,
    ).get_json()
    assert {"seed", "title", "audio_content"} | ASSET_FIELDS <= set(body)
