"""The gateway routes, in front of the fake upstream over real HTTP."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient

from flask_indox_media.testing import serve_wsgi, wav_bytes
from flask_indox_media.web.schemas import PageArgs
from tests.conftest import ALICE, BOB, create_clip

P = "/api/v1/resemble"


def fetch(client: FlaskClient, url: str) -> tuple[int, str, bytes]:
    """GET a local-backend audio_url through the app."""
    with client.get(url) as response:
        return (
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.data,
        )


@pytest.fixture
def client(gateway: Flask) -> FlaskClient:
    return gateway.test_client()


def upstream_file(fake: Any, url: str) -> bytes:
    return fake.files[url.split("?")[0].rsplit("/", 1)[1]][0]


def test_credentials_are_required(client: FlaskClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic a2V5LWE="},
    ):
        response = client.get(f"{P}/tts/voices", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["message"] == "missing or invalid API key"


def test_sdk_token_form_is_accepted(client: FlaskClient) -> None:
    assert (
        client.get(
            f"{P}/tts/voices", headers={"Authorization": "Token token=key-a"}
        ).status_code
        == 200
    )


def test_no_identity_loader_means_401(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert app.test_client().get(f"{P}/tts/voices").status_code == 401


def test_the_callers_key_is_never_forwarded(client: FlaskClient, fake: Any) -> None:
    client.get(f"{P}/tts/voices", headers=ALICE)
    sent = fake.received[-1]["headers"]
    assert sent["Authorization"] == "Token token=fake-resemble-key"
    assert "key-a" not in json.dumps(sent)


def test_synthesize_mirrors_inline_audio(client: FlaskClient, fake: Any) -> None:
    response = client.post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v1", "text": "Hi."}, headers=ALICE
    )
    assert response.status_code == 200
    body = response.get_json()
    assert fake.received[-1]["path"] == "/synthesize"
    assert fake.received[-1]["headers"]["Authorization"] == "Bearer fake-resemble-key"
    assert body["asset_class"] == "tts" and body["resemble_url"] is None
    assert body["audio_url"].startswith("http://localhost/indox-media/local/tts/alice/")
    assert body["expires_at"].endswith("Z")
    status, content_type, data = fetch(client, body["audio_url"])
    assert (status, content_type) == (200, "audio/mpeg")
    assert data == base64.b64decode(body["audio_content"])  # the inline audio, stored
    assert {"success", "duration", "output_format", "sample_rate", "issues"} <= set(
        body
    )


def test_strip_inline_audio(make_gateway: Callable[..., Flask]) -> None:
    client = make_gateway({"INDOX_MEDIA_STRIP_INLINE_AUDIO": True}).test_client()
    body = client.post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v", "text": "Hi"}, headers=ALICE
    ).get_json()
    assert "audio_content" not in body
    assert fetch(client, body["audio_url"])[0] == 200


def test_bad_input_is_422(client: FlaskClient) -> None:
    response = client.post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v"}, headers=ALICE
    )
    assert response.status_code == 422
    assert "text" in response.get_json()["errors"]["json"]
    assert response.get_json()["message"] == "invalid json fields: text"


def test_argument_schemas_are_built_once_not_per_request(
    client: FlaskClient, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # webargs builds a schema given as a class on every request; the
    # blueprint hands it an instance made when the route was declared.
    def built(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("PageArgs built during a request")

    monkeypatch.setattr(PageArgs, "__init__", built)
    for _ in range(2):
        ok = client.get(f"{P}/tts/voices?page=2&page_size=5", headers=ALICE)
        assert ok.status_code == 200
        assert fake.received[-1]["args"] == {"page": "2", "page_size": "5"}
    # The shared instance still validates each request on its own.
    bad = client.get(f"{P}/tts/voices?page=0", headers=ALICE)
    assert bad.status_code == 422 and "page" in bad.get_json()["errors"]["query"]
    assert client.get(f"{P}/tts/voices", headers=ALICE).status_code == 200


def _upload(purpose: str) -> dict[str, Any]:
    return {"purpose": purpose, "file": (io.BytesIO(wav_bytes(0.1)), "a.wav")}


#: One request per kind of refusal: (method, path, keyword arguments, status,
#: the message or a part of it).
ERRORS = [
    ("get", "/media", {}, 401, "missing or invalid API key"),
    ("get", "/media/ast_nope", {"headers": ALICE}, 404, "no such asset"),
    (
        "get",
        "/../indox-media/local/tts/alice/x.wav?expires=1&signature=x",
        {},
        403,
        "signature",
    ),
    ("post", "/tts/synthesize", {"json": {}, "headers": ALICE}, 422, "json fields"),
    ("post", "/tts/stream", {"json": {"voice_uuid": 1}, "headers": ALICE}, 422, "text"),
    ("get", "/media?asset_class=x", {"headers": ALICE}, 422, "query fields"),
    ("get", "/media?page_size=101", {"headers": ALICE}, 422, "page_size"),
    (
        "post",
        "/uploads",
        {"data": _upload("selfie"), "headers": ALICE},
        422,
        "allowed: audio_job_input, stt_input, voice_clone, watermark_input",
    ),
    (
        "post",
        "/tts/synthesize",
        {"data": "{", "content_type": "application/json", "headers": ALICE},
        400,
        "not valid JSON",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message"),
    ERRORS,
    ids=[f"{e[3]}-{e[1]}" for e in ERRORS],
)
def test_every_refusal_has_the_one_error_body(
    client: FlaskClient,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    message: str,
) -> None:
    url = P + path if not path.startswith("/..") else path.removeprefix("/..")
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status and body["status"]
    assert message in body["message"]
    assert set(body) <= {"code", "status", "message", "errors"}


@pytest.mark.parametrize("wrapped", [5, "x", ["voice_uuid", "v"], True])
def test_a_clips_fields_must_be_an_object(
    client: FlaskClient, fake: Any, wrapped: Any
) -> None:
    response = client.post(
        f"{P}/projects/p/clips", json={"fields": wrapped}, headers=ALICE
    )
    assert response.status_code == 422
    assert "fields" in response.get_json()["errors"]["json"]
    assert not any(r["path"].endswith("/clips") for r in fake.received)


def test_response_without_audio_passes_byte_for_byte(
    client: FlaskClient, upstream: str
) -> None:
    direct = requests.get(
        upstream + "/api/v2/voices",
        headers={"Authorization": "Token token=fake-resemble-key"},
        timeout=5,
    )
    through = client.get(f"{P}/tts/voices", headers=ALICE)
    assert through.data == direct.content
    assert through.headers["Content-Type"] == direct.headers["Content-Type"]


def test_clip_sync_is_rewritten_in_place(client: FlaskClient, fake: Any) -> None:
    response = client.post(
        f"{P}/projects/p1/clips",
        json={"fields": {"voice_uuid": "v", "body": "Hello"}},
        headers=ALICE,
    )
    item = response.get_json()["item"]
    assert (
        item["resemble_url"]
        == fake.clips[item["uuid"]]["audio_src"]
        == item["audio_src"]
    )
    assert item["asset_class"] == "tts" and item["asset_id"].startswith("ast_")
    status, content_type, data = fetch(client, item["audio_url"])
    assert (status, content_type, data) == (
        200,
        "audio/wav",
        upstream_file(fake, item["audio_src"]),
    )
    assert {"uuid", "body", "voice_uuid", "title", "is_archived"} <= set(item)
    listed = client.get(f"{P}/projects/p1/clips", headers=ALICE).get_json()["items"]
    assert listed[0]["audio_url"].split("?")[0] == item["audio_url"].split("?")[0]


def test_voice_design_moves_the_original_audio_url(
    client: FlaskClient, fake: Any
) -> None:
    body = client.post(
        f"{P}/voice-design/candidates", json={"description": "warm"}, headers=ALICE
    ).get_json()
    candidates = body["voice_candidates"]
    assert len(candidates) == 3
    for candidate in candidates:
        assert "/files/" in candidate["resemble_url"]
        assert "/indox-media/local/voice-design/alice/" in candidate["audio_url"]
        assert fetch(client, candidate["audio_url"])[2] == upstream_file(
            fake, candidate["resemble_url"]
        )
    assert len({c["audio_url"] for c in candidates}) == 3
    promoted = client.post(
        f"{P}/voice-design/vd-1/promote",
        json={"candidate_index": 1, "name": "N"},
        headers=ALICE,
    )
    assert promoted.status_code == 200 and promoted.get_json()["voice_uuid"].startswith(
        "voice-"
    )
    assert fake.received[-1]["path"] == "/api/v2/voice-design/vd-1/1/create_rapid_voice"


def test_enhance_is_mirrored_lazily_once(
    client: FlaskClient, fake: Any, gateway: Flask
) -> None:
    audio_url = create_clip(client)["audio_src"]
    job = client.post(
        f"{P}/enhance",
        json={"audio_url": audio_url, "remove_noise": True},
        headers=ALICE,
    )
    assert job.status_code == 202
    job_id = job.get_json()["uuid"]
    assert fake.jobs[job_id]["input"] == upstream_file(
        fake, audio_url
    )  # sent as a file
    assert fake.jobs[job_id]["form"]["remove_noise"] == "true"
    pending = client.get(f"{P}/enhance/{job_id}", headers=ALICE).get_json()
    assert pending["status"] == "processing" and "audio_url" not in pending
    gets_before = fake.file_gets
    first = client.get(f"{P}/enhance/{job_id}", headers=ALICE).get_json()
    second = client.get(f"{P}/enhance/{job_id}", headers=ALICE).get_json()
    assert first["status"] == "completed" and first["asset_class"] == "audio_jobs"
    assert (
        first["enhanced_audio_url"] != second["enhanced_audio_url"]
    )  # signed anew each poll
    assert first["asset_id"] == second["asset_id"]
    assert first["audio_url"].split("?")[0] == second["audio_url"].split("?")[0]
    assert fake.file_gets == gets_before + 1  # one download, one object
    backend = gateway.extensions["indox_media"].catalog.primary
    assert len(list(backend.list_objects("audio-jobs/alice/"))) == 1


def test_edit_and_watermark_polls(client: FlaskClient, fake: Any) -> None:
    audio_url = create_clip(client)["audio_src"]
    edit = client.post(
        f"{P}/edit",
        json={
            "audio_url": audio_url,
            "original_transcript": "a",
            "target_transcript": "b",
            "voice_uuid": "v",
        },
        headers=ALICE,
    ).get_json()["item"]
    client.get(f"{P}/edit/{edit['uuid']}", headers=ALICE)
    done = client.get(f"{P}/edit/{edit['uuid']}", headers=ALICE).get_json()["item"]
    assert (
        done["asset_class"] == "audio_jobs"
        and fetch(client, done["audio_url"])[0] == 200
    )
    wm = client.post(
        f"{P}/watermark/apply", json={"audio_url": audio_url}, headers=ALICE
    ).get_json()["item"]
    assert fake.received[-1]["path"] == "/api/v2/watermark/apply"
    client.get(f"{P}/watermark/apply/{wm['uuid']}", headers=ALICE)
    result = client.get(f"{P}/watermark/apply/{wm['uuid']}", headers=ALICE).get_json()[
        "item"
    ]
    assert result["asset_class"] == "watermark"
    assert result["resemble_url"] == result["watermarked_media"]
    assert fetch(client, result["audio_url"])[2] == upstream_file(
        fake, result["watermarked_media"]
    )
    waited = client.post(
        f"{P}/watermark/apply",
        json={"audio_url": audio_url},
        headers={**ALICE, "Prefer": "wait"},
    ).get_json()["item"]
    assert waited["asset_class"] == "watermark"  # Prefer: wait was forwarded
    detect = client.post(
        f"{P}/watermark/detect", json={"audio_url": audio_url}, headers=ALICE
    ).get_json()
    got = client.get(
        f"{P}/watermark/detect/{detect['item']['uuid']}", headers=ALICE
    ).get_json()
    assert (
        got["item"]["metrics"] == {"has_watermark": True}
        and "audio_url" not in got["item"]
    )


def test_stt(client: FlaskClient, fake: Any) -> None:
    audio_url = create_clip(client)["audio_src"]
    created = client.post(
        f"{P}/stt", json={"audio_url": audio_url}, headers=ALICE
    ).get_json()["item"]
    assert created["asset_class"] == "stt_input"
    client.get(f"{P}/stt/{created['uuid']}", headers=ALICE)
    done = client.get(f"{P}/stt/{created['uuid']}", headers=ALICE).get_json()["item"]
    assert done["text"] == "hello world" and done["asset_id"] == created["asset_id"]


def test_voices_and_recordings(client: FlaskClient, fake: Any, gateway: Flask) -> None:
    assert (
        client.get(f"{P}/tts/voices/voice-1", headers=ALICE).get_json()["item"]["uuid"]
        == "voice-1"
    )
    voice = client.post(f"{P}/voices", json={"name": "Mine"}, headers=ALICE).get_json()[
        "item"
    ]
    audio_url = create_clip(client)["audio_src"]
    rec = client.post(
        f"{P}/voices/{voice['uuid']}/recordings",
        json={
            "fields": {
                "audio_url": audio_url,
                "name": "line1",
                "text": "Hello",
                "is_active": True,
            }
        },
        headers=ALICE,
    ).get_json()["item"]
    assert rec["asset_class"] == "voice_recordings" and rec["expires_at"] is None
    assert fetch(client, rec["audio_url"])[2] == upstream_file(fake, audio_url)
    assert fake.recordings[rec["uuid"]]["name"] == "line1"
    path = f"{P}/voices/{voice['uuid']}/recordings/{rec['uuid']}"
    assert (
        client.get(path, headers=ALICE).get_json()["item"]["asset_id"]
        == rec["asset_id"]
    )
    assert (
        client.put(
            path, json={"fields": {"name": "renamed"}}, headers=ALICE
        ).get_json()["item"]["name"]
        == "renamed"
    )
    listed = client.get(
        f"{P}/voices/{voice['uuid']}/recordings", headers=ALICE
    ).get_json()["items"]
    assert [r["asset_id"] for r in listed] == [rec["asset_id"]]
    backend = gateway.extensions["indox_media"].catalog.primary
    assert len(list(backend.list_objects("voice-recordings/alice/"))) == 1
    assert client.delete(path, headers=ALICE).status_code == 200
    assert (
        client.post(
            f"{P}/voices/{voice['uuid']}/build", json={}, headers=ALICE
        ).status_code
        == 200
    )
    assert (
        client.delete(f"{P}/voices/{voice['uuid']}", headers=ALICE).status_code == 200
    )
    missing = client.post(
        f"{P}/voices/v/recordings", json={"fields": {"name": "x"}}, headers=ALICE
    )
    assert missing.status_code == 422


def test_users_get_their_own_keys(client: FlaskClient) -> None:
    a = client.post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v", "text": "x"}, headers=ALICE
    ).get_json()
    b = client.post(
        f"{P}/tts/synthesize", json={"voice_uuid": "v", "text": "x"}, headers=BOB
    ).get_json()
    assert "/tts/alice/" in a["audio_url"] and "/tts/bob/" in b["audio_url"]


def test_input_audio_from_a_disallowed_host_is_422(
    client: FlaskClient, fake: Any
) -> None:
    for url in (
        "https://evil.example/x.wav",
        "http://169.254.169.254/latest",
        "file:///etc/passwd",
    ):
        response = client.post(f"{P}/enhance", json={"audio_url": url}, headers=ALICE)
        assert response.status_code == 422
        assert response.get_json()["errors"]["audio_url"]
    assert not any(r["path"] == "/api/v2/audio_enhancements" for r in fake.received)


@pytest.mark.parametrize("url", ["http://[::1", "//[x", "https://a\uff03b/x.wav"])
@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/enhance", lambda url: {"audio_url": url}),
        ("/stt", lambda url: {"audio_url": url}),
        ("/watermark/apply", lambda url: {"audio_url": url}),
        ("/voices/v/recordings", lambda url: {"fields": {"audio_url": url}}),
    ],
    ids=["enhance", "stt", "watermark", "recording"],
)
def test_a_malformed_audio_url_is_422(
    client: FlaskClient, fake: Any, url: str, route: str, body: Any
) -> None:
    """Refused before a storage backend is asked whether the URL is its own
    (urlsplit raises on these)."""
    response = client.post(f"{P}{route}", json=body(url), headers=ALICE)
    assert response.status_code == 422
    assert "audio_url" in json.dumps(response.get_json()["errors"])
    assert not fake.received


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/voice-design/d/promote", '{"candidate_index": 0, "name": "\\ud800"}'),
        ("/edit", '{"audio_url": "am_x", "voice_uuid": "\\udfff"}'),
        ("/edit", '{"audio_url": "am_x", "\\ud800": "x"}'),
        ("/voices/v/recordings", '{"fields": {"audio_url": "am_x", "n": ["\\ud800"]}}'),
        ("/tts/synthesize", '{"voice_uuid": "v", "text": "\\ud800"}'),
    ],
)
def test_a_lone_surrogate_is_422(
    client: FlaskClient, fake: Any, route: str, body: str
) -> None:
    """JSON may escape one; it cannot be sent on as UTF-8 (in a form field or
    a multipart part it was a 500)."""
    response = client.post(
        f"{P}{route}", data=body, content_type="application/json", headers=ALICE
    )
    assert response.status_code == 422
    assert "lone surrogate" in response.get_data(as_text=True)
    assert not fake.received


def test_malicious_upstream_urls_are_never_fetched(
    make_app: Callable[..., Flask], tmp_path: Any
) -> None:
    """An upstream whose JSON points the mirror at internal addresses."""
    hits: list[str] = []

    def canary(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        hits.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "audio/wav")])
        return [wav_bytes(0.1)]

    with serve_wsgi(canary) as internal:
        bad = [
            internal + "/loopback.wav",
            internal.replace("127.0.0.1", "localhost") + "/name.wav",
            "https://10.1.2.3/private.wav",
            "https://evil.example/x.wav",
            "file:///etc/passwd",
        ]
        malicious = Flask("malicious")

        @malicious.route("/api/v2/projects/<p>/clips", methods=["GET"])
        def clips(p: str) -> Any:
            return {
                "items": [
                    {"uuid": f"c{i}", "audio_src": url} for i, url in enumerate(bad)
                ]
            }

        with serve_wsgi(malicious) as upstream:
            app = make_app(
                {
                    "INDOX_MEDIA_RESEMBLE_BASE_URL": upstream + "/api/",
                    "INDOX_MEDIA_SOURCE_HOSTS": "app.resemble.ai",
                }
            )
            app.extensions["indox_media"].extension.identity_loader(lambda: "alice")
            response = app.test_client().get(f"{P}/projects/p/clips")
    assert response.status_code == 200
    assert hits == []
    items = response.get_json()["items"]
    assert [i["resemble_url"] for i in items[:4]] == bad[:4]
    backend = app.extensions["indox_media"].catalog.primary
    assert list(backend.list_objects("tts/")) == []


def test_a_failing_hook_returns_the_original_response(
    client: FlaskClient,
    gateway: Flask,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(gateway.extensions["indox_media"].catalog, "describe", broken)
    response = client.post(
        f"{P}/projects/p/clips", json={"voice_uuid": "v", "body": "x"}, headers=ALICE
    )
    assert response.status_code == 200
    item = response.get_json()["item"]
    assert item["audio_src"].startswith("http://127.0.0.1") and "audio_url" not in item
    assert "rewriting a clip response failed" in caplog.text


def test_native_pass_through(client: FlaskClient, fake: Any) -> None:
    response = client.get(
        f"{P}/v2/voices?page=2&page_size=10",
        headers={"Authorization": "Token token=key-a"},
    )
    assert response.status_code == 200
    assert fake.received[-1]["path"] == "/api/v2/voices"
    created = client.post(
        f"{P}/v2/projects/p/clips", json={"voice_uuid": "v", "body": "x"}, headers=ALICE
    )
    assert created.get_json()["item"]["asset_class"] == "tts"
    form = client.post(
        f"{P}/v2/voices/v/recordings",
        data={
            "name": "n",
            "text": "t",
            "file": (__import__("io").BytesIO(wav_bytes(0.1)), "a.wav"),
        },
        headers=ALICE,
    )
    assert (
        form.status_code == 200
        and form.get_json()["item"]["asset_class"] == "voice_recordings"
    )
    assert client.get(f"{P}/v2/projects/p/clips/nope", headers=ALICE).status_code == 404


def test_openapi_describes_the_gateway(gateway: Flask) -> None:
    # Without a host Api, the extension's own is made at the first app context.
    with gateway.app_context():
        api = gateway.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    paths = api.spec.to_dict()["paths"]
    for path in (
        "/tts/synthesize",
        "/enhance/{job_id}",
        "/projects/{project_uuid}/clips",
        "/voice-design/candidates",
    ):
        assert P + path in paths


# Upstream failures, with `responses` ------------------------------------------------


@pytest.fixture
def mocked(
    make_app: Callable[..., Flask],
) -> tuple[FlaskClient, responses.RequestsMock]:
    app = make_app({"INDOX_MEDIA_RESEMBLE_BASE_URL": "https://app.resemble.test/api/"})
    app.extensions["indox_media"].extension.identity_loader(lambda: "alice")
    return app.test_client(), responses.RequestsMock()


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 429])
def test_upstream_4xx_passes_through(
    mocked: tuple[FlaskClient, Any], status: int
) -> None:
    client, rsps = mocked
    body = json.dumps({"success": False, "message": f"error {status}"})
    with rsps:
        rsps.get(
            "https://app.resemble.test/api/v2/voices",
            body=body,
            status=status,
            content_type="application/json",
        )
        response = client.get(f"{P}/tts/voices")
    assert response.status_code == status
    assert response.data == body.encode()


@pytest.mark.parametrize(
    ("upstream", "status"),
    [
        ({"status": 500}, 502),
        ({"status": 503}, 502),
        ({"body": requests.ConnectTimeout("slow")}, 504),
        ({"body": requests.ReadTimeout("slow")}, 504),
        ({"body": requests.ConnectionError("refused")}, 502),
    ],
)
def test_upstream_failures_are_json_errors(
    mocked: tuple[FlaskClient, Any], upstream: dict[str, Any], status: int
) -> None:
    client, rsps = mocked
    with rsps:
        rsps.get("https://app.resemble.test/api/v2/voices", **upstream)
        response = client.get(f"{P}/tts/voices")
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "upstream_path"),
    [
        ("/tts/voices", "voices"),  # read whole (a kind with audio rules)
        ("/watermark/detect/j1", "watermark/detect/j1/result"),  # streamed through
    ],
)
def test_compressed_upstream_answers_are_relayed_decoded(
    mocked: tuple[FlaskClient, Any], path: str, upstream_path: str
) -> None:
    import gzip

    client, rsps = mocked
    body = json.dumps({"item": {"uuid": "j1", "name": "x" * 500}}).encode()
    compressed = gzip.compress(body)
    with rsps:
        rsps.get(
            "https://app.resemble.test/api/v2/" + upstream_path,
            body=compressed,
            headers={
                "Content-Encoding": "gzip",
                "Content-Length": str(len(compressed)),
            },
            content_type="application/json",
        )
        response = client.get(P + path)
    assert response.status_code == 200
    assert response.data == body
    assert response.headers.get("Content-Length") in (None, str(len(body)))


def test_the_upstream_goes_through_the_environments_proxy(
    make_gateway: Callable[..., Flask], upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read once per upstream origin and process, the environment's proxy
    settings still apply, ``NO_PROXY`` included."""
    via: list[str] = []

    def proxy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        via.append(environ["HTTP_HOST"] + environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"items": [], "via": "proxy"}']

    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with serve_wsgi(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        client = make_gateway().test_client()
        for _ in range(2):
            answer = client.get(f"{P}/tts/voices", headers=ALICE)
            assert answer.get_json() == {"items": [], "via": "proxy"}
        assert via == [upstream.removeprefix("http://") + "/api/v2/voices"] * 2
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        answer = make_gateway().test_client().get(f"{P}/tts/voices", headers=ALICE)
        assert answer.status_code == 200 and "via" not in answer.get_json()
        assert len(via) == 2
