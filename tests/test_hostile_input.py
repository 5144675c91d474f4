"""Hostile input never gets a 500 (issue 9): deeply nested and huge JSON
bodies, garbled tokens of every kind."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import responses
from flask import Flask, g
from flask.testing import FlaskClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flask_indox_media.mirror.rewrite import rewrite
from flask_indox_media.testing import wav_bytes
from flask_indox_media.web.callbacks import callback_url
from flask_indox_media.web.limits import MAX_JSON_DEPTH, json_depth
from tests.conftest import ALICE, create_clip

P = "/api/v1/resemble"
DEEP = [b"[" * 100_000, b'{"a":' * 50_000, b'{"x":[' * 30_000 + b"1"]


@pytest.fixture
def client(gateway: Flask) -> FlaskClient:
    return gateway.test_client()


def json_routes(app: Flask) -> Iterator[tuple[str, str]]:
    """Every gateway route that takes a body, with sample path arguments."""
    with app.app_context():
        pass  # the gateway's routes are registered at the first app context
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("indox_media_gateway."):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            path = rule.rule
            for argument in rule.arguments:
                sample = "projects/p/clips" if argument == "path" else "x1"
                path = path.replace(f"<{argument}>", sample)
                path = path.replace(f"<path:{argument}>", sample)
            yield method, path


def test_every_body_route_is_covered(gateway: Flask) -> None:
    routes = list(json_routes(gateway))
    assert len(routes) >= 15 and ("POST", f"{P}/v2/projects/p/clips") in routes


@pytest.mark.parametrize("body", DEEP, ids=["arrays", "objects", "mixed"])
def test_deep_json_is_400_on_every_route(
    gateway: Flask, fake: Any, body: bytes
) -> None:
    client = gateway.test_client()
    for method, path in json_routes(gateway):
        response = client.open(
            path,
            method=method,
            data=body,
            content_type="application/json",
            headers=ALICE,
        )
        assert response.status_code == 400, (method, path, response.data[:200])
        assert "nests deeper" in response.get_json()["message"]
    assert fake.received == []


def test_deep_json_to_a_valid_callback_is_400(gateway: Flask) -> None:
    """Callbacks parse any content type as JSON; a valid token changes nothing."""
    with gateway.test_request_context():
        g._indox_media_user = "alice"
        url = callback_url("https://hooks.example.com/h", "clip")
    path = url.split("localhost", 1)[1]
    client = gateway.test_client()
    for content_type in ("application/json", "text/plain", None):
        response = client.post(path, data=DEEP[0], content_type=content_type)
        assert response.status_code == 400


def test_json_within_the_depth_limit_still_passes(
    client: FlaskClient, fake: Any
) -> None:
    nested: Any = "x"
    for _ in range(MAX_JSON_DEPTH - 2):
        nested = [nested]
    response = client.post(
        f"{P}/v2/voices", json={"name": "n", "deep": nested}, headers=ALICE
    )
    assert response.status_code < 500
    assert fake.received[-1]["json"]["deep"] == nested


def test_brackets_inside_strings_do_not_count() -> None:
    assert json_depth(json.dumps({"text": "[" * 10_000 + '\\"{'}).encode()) == 1
    assert json_depth(b'[[["a\\\\"],"]]]]"]]') == 3
    assert json_depth(b"[" * 500 + b"]" * 500) == 500


def test_json_that_is_not_utf8_is_400(client: FlaskClient) -> None:
    body = ("[" * 1000 + '"' + "\u2200" + '"' + "]" * 1000).encode("utf-16-le")
    response = client.post(
        f"{P}/v2/voices", data=body, content_type="application/json", headers=ALICE
    )
    assert response.status_code == 400


@pytest.mark.parametrize("chunked", [False, True])
def test_huge_json_is_413(make_gateway: Any, fake: Any, chunked: bool) -> None:
    client = make_gateway({"INDOX_MEDIA_MAX_JSON_BYTES": 1000}).test_client()
    body = json.dumps({"name": "n", "pad": "x" * 2000}).encode()
    for path in (f"{P}/v2/voices", f"{P}/voice-design/candidates"):
        if chunked:  # no Content-Length: the limit holds while reading
            response = client.post(
                path,
                input_stream=io.BytesIO(body),
                content_type="application/json",
                headers={**ALICE, "Transfer-Encoding": "chunked"},
                environ_overrides={"wsgi.input_terminated": True},
            )
        else:
            response = client.post(
                path, data=body, content_type="application/json", headers=ALICE
            )
        assert response.status_code == 413, (path, response.data)
        assert response.get_json()["code"] == 413
    assert fake.received == []


def test_the_json_limit_is_a_setting(make_gateway: Any) -> None:
    app = make_gateway()
    assert app.extensions["indox_media"].settings.max_json_bytes == 10 * 1024 * 1024


# A hostile upstream ---------------------------------------------------------------


def test_a_deep_upstream_answer_is_relayed_untouched(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app({"INDOX_MEDIA_RESEMBLE_BASE_URL": "https://app.resemble.test/api/"})
    app.extensions["indox_media"].extension.identity_loader(lambda: "alice")
    with responses.RequestsMock() as rsps:
        rsps.get(
            "https://app.resemble.test/api/v2/voices",
            body=DEEP[0],
            content_type="application/json",
        )
        with caplog.at_level(logging.ERROR, "flask_indox_media"):
            response = app.test_client().get(f"{P}/tts/voices")
    assert response.status_code == 200 and response.data == DEEP[0]
    assert "rewriting" not in caplog.text


@pytest.mark.parametrize("body", DEEP, ids=["arrays", "objects", "mixed"])
def test_rewrite_leaves_a_deep_body_alone(app: Flask, body: bytes) -> None:
    state = app.extensions["indox_media"]
    # Naming an audio field, so it is parsed (the parser gives up).
    assert rewrite(state, b'{"audio_src":0,"x":' + body, "clip", "alice") is None


# Garbled tokens, through the real routes ----------------------------------------

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
NOT_FOUND_OR_FORBIDDEN = {400, 403, 404, 422}


def variants(token: str) -> list[str]:
    """A real token, garbled the usual ways."""
    return [
        token[:-1],
        token[: len(token) // 2],
        token + "ü",
        token.replace("1.", "2.", 1),
        token.replace("1.", "", 1),
        token.replace(".", "..", 1),
        token.upper(),
        "ü" + token,
    ]


@FUZZ
@given(text=st.text(min_size=1))
def test_garbled_asset_ids(client: FlaskClient, text: str) -> None:
    assume("/" not in text)  # another route (werkzeug decodes %2F before routing)
    for path in (
        f"{P}/media/{quote(text, safe='')}",
        f"{P}/media/am_{quote(text, safe='')}",
    ):
        response = client.get(path, headers=ALICE)
        assert response.status_code in NOT_FOUND_OR_FORBIDDEN, (text, response.data)


def test_real_asset_ids_garbled(client: FlaskClient) -> None:
    asset_id = create_clip(client)["asset_id"]
    assert client.get(f"{P}/media/{asset_id}", headers=ALICE).status_code == 200
    for garbled in variants(asset_id):
        response = client.get(f"{P}/media/{quote(garbled, safe='')}", headers=ALICE)
        assert response.status_code == 404, garbled


def local_url(client: FlaskClient) -> tuple[str, dict[str, str]]:
    url = create_clip(client)["audio_url"]
    path, _, query = url.split("localhost", 1)[1].partition("?")
    return path, dict(p.split("=", 1) for p in query.split("&"))


@FUZZ
@given(key=st.text(min_size=1), expires=st.text(), signature=st.text())
def test_garbled_local_urls(
    client: FlaskClient, key: str, expires: str, signature: str
) -> None:
    assume("//" not in f"/{key}/")  # werkzeug redirects to the merged path
    response = client.get(
        "/indox-media/local/" + quote(key, safe="/"),
        query_string={"expires": expires, "signature": signature},
    )
    assert response.status_code in NOT_FOUND_OR_FORBIDDEN, response.data


def test_real_local_urls_garbled(client: FlaskClient) -> None:
    path, args = local_url(client)
    with client.get(path, query_string=args) as response:
        assert response.status_code == 200
    for signature in [*variants(args["signature"]), "ü", "1.ü", ""]:
        response = client.get(path, query_string={**args, "signature": signature})
        assert response.status_code == 403, signature
    for expires in ["ü", "-1", "1e99", "9" * 400, ""]:
        response = client.get(path, query_string={**args, "expires": expires})
        assert response.status_code == 403, expires


@FUZZ
@given(token=st.text(min_size=1))
def test_garbled_callback_tokens(client: FlaskClient, token: str) -> None:
    response = client.post(f"{P}/callbacks/{quote(token, safe='')}", json={})
    assert response.status_code in NOT_FOUND_OR_FORBIDDEN, response.data


@pytest.mark.parametrize(
    "message", ["[" * 100_000, '["a","b"', "[1,2,3]", '"x"', "null", "\udcff"]
)
def test_callback_tokens_are_verified_before_parsing(
    client: FlaskClient, message: str
) -> None:
    import base64

    body = base64.urlsafe_b64encode(message.encode("utf-8", "surrogatepass"))
    for prefix in ("1.", ""):
        token = prefix + body.decode().rstrip("=") + ".c2ln"
        response = client.post(f"{P}/callbacks/{token}", json={})
        assert response.status_code == 404


def test_real_callback_tokens_garbled(gateway: Flask) -> None:
    with gateway.test_request_context():
        g._indox_media_user = "alice"
        url = callback_url("https://hooks.example.com/h", "clip")
    path = url.split("localhost", 1)[1]
    prefix, token = path.rsplit("/", 1)
    client = gateway.test_client()
    for garbled in variants(token):
        response = client.post(f"{prefix}/{quote(garbled, safe='')}", json={})
        assert response.status_code == 404, garbled


# Local files are never sniffed into a page -----------------------------------------


def test_a_wav_that_is_also_html_is_served_nosniff(client: FlaskClient) -> None:
    polyglot = (
        wav_bytes(0.05)[:44] + b"<html><script>alert(document.cookie)</script></html>"
    )
    created = client.post(
        f"{P}/uploads",
        data={"file": (io.BytesIO(polyglot), "a.wav", "audio/wav")},
        headers=ALICE,
    )
    assert created.status_code == 201, created.data
    url = created.get_json()["audio_url"].split("localhost", 1)[1]
    with client.get(url) as response:
        assert response.status_code == 200 and response.data == polyglot
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        assert not response.content_type.startswith("text/")


@pytest.mark.parametrize("range_header", [None, "bytes=0-9"])
def test_every_local_file_answer_is_nosniff(
    client: FlaskClient, range_header: str | None
) -> None:
    path, args = local_url(client)
    headers = {"Range": range_header} if range_header else {}
    with client.get(path, query_string=args, headers=headers) as response:
        assert response.status_code in (200, 206)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
