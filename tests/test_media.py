"""Uploads and the media API, over real HTTP, on the local backend and on R2
(moto in server mode)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from flask_indox_media.testing import serve_wsgi, wav_bytes
from flask_indox_media.web import uploads
from flask_indox_media.web.form_stream import FormStream
from flask_indox_media.web.uploads import clean_file_name
from tests.conftest import ALICE, AUDIO_DIR, BOB, create_clip, r2_config, work

P = "/api/v1/resemble"
SAMPLES = {
    "tone-1s.wav": "audio/wav",
    "tone-1s-mulaw.wav": "audio/wav",
    "tone-1s.mp3": "audio/mpeg",
    "tone-1s-noid3.mp3": "audio/mpeg",
    "tone-1s.ogg": "audio/ogg",
    "tone-1s.opus": "audio/ogg; codecs=opus",
    "tone-1s.flac": "audio/flac",
    "tone-1s.m4a": "audio/mp4",
    "tone-1s.webm": "audio/webm",
}
PURPOSES = {
    None: ("uploads/", "uploads", 30),
    "voice_clone": ("voice-recordings/", "voice_recordings", None),
    "stt_input": ("stt-input/", "stt_input", 30),
    "watermark_input": ("watermark/", "watermark", 7),
    "audio_job_input": ("audio-jobs/", "audio_jobs", 7),
}
MP4_VIDEO = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(200)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


@pytest.fixture(params=["local", "r2"])
def served(
    request: pytest.FixtureRequest, make_gateway: Callable[..., Flask]
) -> Iterator[tuple[Flask, str]]:
    """The gateway over HTTP, on each backend."""
    config = (
        r2_config(request.getfixturevalue("moto_endpoint"))
        if request.param == "r2"
        else {}
    )
    app = make_gateway({**config, "INDOX_MEDIA_MAX_UPLOAD_BYTES": 2 * 1024 * 1024})
    with serve_wsgi(app) as url:
        yield app, url


def upload(
    base: str,
    data: bytes,
    *,
    purpose: str | None = None,
    name: str = "a.wav",
    headers: dict[str, str] = ALICE,
    content_type: str = "audio/wav",
) -> requests.Response:
    form = {"purpose": purpose} if purpose else None
    return requests.post(
        f"{base}{P}/uploads",
        files={"file": (name, data, content_type)},
        data=form,
        headers=headers,
        timeout=10,
    )


def stored_keys(app: Flask) -> list[str]:
    backend = app.extensions["indox_media"].catalog.primary
    return [
        i.key
        for prefix in (
            "uploads/",
            "voice-recordings/",
            "stt-input/",
            "watermark/",
            "audio-jobs/",
        )
        for i in backend.list_objects(prefix)
    ]


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_each_purpose_lands_under_its_prefix(
    served: tuple[Flask, str], purpose: str | None
) -> None:
    app, base = served
    data = (AUDIO_DIR / "tone-1s.wav").read_bytes()
    response = upload(
        base, data, purpose=purpose, content_type="application/pdf", name="voice.txt"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    prefix, asset_class, days = PURPOSES[purpose]
    assert body["key"].startswith(f"{prefix}alice/")
    assert body["asset_class"] == asset_class
    assert body["url"] == body["audio_url"]
    created = datetime.strptime(body["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )
    if days is None:
        assert body["expires_at"] is None
    else:
        assert body["expires_at"] == (created + timedelta(days=days)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    assert (body["size_bytes"], body["extension"], body["file_type"]) == (
        len(data),
        "wav",
        "audio",
    )
    assert body["content_type"] == "audio/wav" and body["file_name"] == "voice.txt"
    assert body["key"].endswith(
        ".wav"
    )  # from the bytes, not the name or the client's type
    fetched = requests.get(body["url"], timeout=10)
    assert (fetched.status_code, fetched.headers["Content-Type"], fetched.content) == (
        200,
        "audio/wav",
        data,
    )


@pytest.mark.parametrize(("name", "content_type"), sorted(SAMPLES.items()))
def test_every_audio_format_is_recognised(
    served: tuple[Flask, str], name: str, content_type: str
) -> None:
    _, base = served
    data = (AUDIO_DIR / name).read_bytes()
    body = upload(
        base, data, content_type="application/octet-stream", name="x.bin"
    ).json()
    assert body["content_type"] == content_type
    fetched = requests.get(body["audio_url"], timeout=10)
    assert fetched.headers["Content-Type"] == content_type and fetched.content == data


def test_range_requests_on_the_local_backend(served: tuple[Flask, str]) -> None:
    app, base = served
    data = (AUDIO_DIR / "tone-1s.mp3").read_bytes()
    url = upload(base, data).json()["audio_url"]
    partial = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert partial.status_code == 206 and partial.content == data[100:200]


@pytest.mark.parametrize(
    ("send", "status"),
    [
        (lambda base: upload(base, (AUDIO_DIR / "not-audio.pdf").read_bytes()), 415),
        (lambda base: upload(base, (AUDIO_DIR / "random.bin").read_bytes()), 415),
        (lambda base: upload(base, MP4_VIDEO, purpose="voice_clone"), 415),
        (lambda base: upload(base, PNG, purpose="audio_job_input"), 415),
        (lambda base: upload(base, b""), 422),
        (lambda base: upload(base, wav_bytes(0.1), purpose="selfie"), 422),
        (
            lambda base: requests.post(
                f"{base}{P}/uploads",
                files={"other": ("a.wav", wav_bytes(0.1))},
                headers=ALICE,
                timeout=10,
            ),
            422,
        ),
        (lambda base: upload(base, wav_bytes(0.1), headers={}), 401),
        (
            lambda base: upload(
                base, wav_bytes(0.1), headers={"Authorization": "Bearer wrong"}
            ),
            401,
        ),
        (lambda base: upload(base, b"RIFF\0\0\0\0WAVE" + bytes(3 * 1024 * 1024)), 413),
        (
            lambda base: requests.post(
                f"{base}{P}/uploads",
                data=b"--x\r\nnot multipart",
                headers={**ALICE, "Content-Type": "multipart/form-data; boundary=x"},
                timeout=10,
            ),
            400,
        ),
        (
            lambda base: requests.post(
                f"{base}{P}/uploads",
                data=b"abc",
                headers={**ALICE, "Content-Type": "multipart/form-data"},
                timeout=10,
            ),
            400,
        ),
        (
            lambda base: requests.post(
                f"{base}{P}/uploads", json={"file": "x"}, headers=ALICE, timeout=10
            ),
            400,
        ),
    ],
)
def test_bad_uploads_store_nothing(
    served: tuple[Flask, str], send: Callable[[str], requests.Response], status: int
) -> None:
    app, base = served
    response = send(base)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["message"]
    assert stored_keys(app) == []


def test_unknown_purpose_names_the_allowed_values(served: tuple[Flask, str]) -> None:
    _, base = served
    message = upload(base, wav_bytes(0.1), purpose="x").json()["message"]
    for purpose in ("voice_clone", "stt_input", "watermark_input", "audio_job_input"):
        assert purpose in message


def test_the_limit_holds_for_chunked_bodies(served: tuple[Flask, str]) -> None:
    app, base = served

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\0\0\0\0WAVE'
        for _ in range(40):
            yield bytes(100 * 1024)
        yield b"\r\n--b--\r\n"

    response = requests.post(
        f"{base}{P}/uploads",
        data=body(),
        timeout=10,
        headers={**ALICE, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert stored_keys(app) == []


def test_video_and_images_where_the_purpose_allows(served: tuple[Flask, str]) -> None:
    _, base = served
    assert upload(base, MP4_VIDEO).json()["file_type"] == "video"
    assert upload(base, PNG, purpose="watermark_input").json()["file_type"] == "image"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\take 1.wav", "take 1.wav"),
        ("a\x00b.wav", "ab.wav"),
        ("\u202egnp.wav", "gnp.wav"),  # a right-to-left override
        ("cafe\u0301.wav", "café.wav"),
        ("..", "upload"),
        ("", "upload"),
    ],
)
def test_file_names_are_cleaned(given: str, shown: str) -> None:
    assert clean_file_name(given) == shown


def test_odd_file_names_never_reach_the_key(served: tuple[Flask, str]) -> None:
    _, base = served
    body = upload(base, wav_bytes(0.1), name="../../../evil\u202e/..\\x.wav").json()
    assert "evil" not in body["key"] and ".." not in body["key"]
    assert body["key"].startswith("uploads/alice/")


# The media API ---------------------------------------------------------------------


def test_media_get_audio_list_delete(served: tuple[Flask, str]) -> None:
    app, base = served
    data = wav_bytes(0.2)
    up = upload(base, data, purpose="stt_input").json()
    got = requests.get(
        f"{base}{P}/media/{up['asset_id']}", headers=ALICE, timeout=10
    ).json()
    assert got["status"] == "mirrored" and got["key"] == up["key"]
    assert (got["size_bytes"], got["content_type"], got["expires_at"]) == (
        len(data),
        "audio/wav",
        up["expires_at"],
    )
    assert requests.get(got["audio_url"], timeout=10).content == data
    stable = requests.get(
        f"{base}{P}/media/{up['asset_id']}/audio",
        headers=ALICE,
        timeout=10,
        allow_redirects=False,
    )
    assert stable.status_code == 302
    assert requests.get(stable.headers["Location"], timeout=10).content == data
    listed = requests.get(f"{base}{P}/media", headers=ALICE, timeout=10)
    assert [a["asset_id"] for a in listed.json()] == [up["asset_id"]]
    assert (
        requests.delete(
            f"{base}{P}/media/{up['asset_id']}", headers=ALICE, timeout=10
        ).status_code
        == 204
    )
    assert (
        requests.get(
            f"{base}{P}/media/{up['asset_id']}", headers=ALICE, timeout=10
        ).status_code
        == 404
    )
    assert (
        requests.delete(
            f"{base}{P}/media/{up['asset_id']}", headers=ALICE, timeout=10
        ).status_code
        == 404
    )
    assert stored_keys(app) == []


def test_users_are_isolated(served: tuple[Flask, str]) -> None:
    app, base = served
    mine = upload(base, wav_bytes(0.2), headers=ALICE).json()
    theirs = upload(base, wav_bytes(0.3), headers=BOB).json()
    aid = mine["asset_id"]
    for method, path in (
        ("GET", f"/media/{aid}"),
        ("GET", f"/media/{aid}/audio"),
        ("DELETE", f"/media/{aid}"),
    ):
        response = requests.request(
            method, f"{base}{P}{path}", headers=BOB, timeout=10, allow_redirects=False
        )
        assert response.status_code == 404, (method, path)
    assert [
        a["asset_id"]
        for a in requests.get(f"{base}{P}/media", headers=BOB, timeout=10).json()
    ] == [theirs["asset_id"]]
    garbled = [
        aid[:-2] + "xx",
        aid.replace("ast_", "ast_x"),
        "ast_",
        "nonsense",
        aid + ".x",
        "ast_" + "A" * 400,
    ]
    for bad in garbled:
        assert (
            requests.get(
                f"{base}{P}/media/{bad}", headers=ALICE, timeout=10
            ).status_code
            == 404
        )
    assert app.extensions["indox_media"].catalog.primary.exists(
        mine["key"]
    )  # untouched


def test_list_is_newest_first_paginated_and_filterable(
    served: tuple[Flask, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, base = served
    state = app.extensions["indox_media"]
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    ids = []
    for i, purpose in enumerate(["stt_input", None, "voice_clone", None]):
        monkeypatch.setattr(
            state.catalog, "clock", lambda i=i: start + timedelta(hours=i)
        )
        ids.append(upload(base, wav_bytes(0.1), purpose=purpose).json()["asset_id"])
    listed = requests.get(f"{base}{P}/media", headers=ALICE, timeout=10)
    assert [a["asset_id"] for a in listed.json()] == ids[::-1]
    page = requests.get(
        f"{base}{P}/media?page=2&page_size=3", headers=ALICE, timeout=10
    )
    assert [a["asset_id"] for a in page.json()] == [ids[0]]
    assert '"total": 4' in page.headers["X-Pagination"]
    uploads = requests.get(
        f"{base}{P}/media?asset_class=uploads", headers=ALICE, timeout=10
    ).json()
    assert [a["asset_id"] for a in uploads] == [ids[3], ids[1]]
    assert (
        requests.get(
            f"{base}{P}/media?asset_class=nope", headers=ALICE, timeout=10
        ).status_code
        == 422
    )


def test_stable_link_stops_at_expires_at(
    served: tuple[Flask, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, base = served
    state = app.extensions["indox_media"]
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    monkeypatch.setattr(state.catalog, "clock", lambda: now)
    up = upload(base, wav_bytes(0.1), purpose="audio_job_input").json()
    link = f"{base}{P}/media/{up['asset_id']}/audio"
    monkeypatch.setattr(
        state.catalog, "clock", lambda: now + timedelta(days=6, hours=23)
    )
    assert (
        requests.get(link, headers=ALICE, timeout=10, allow_redirects=False).status_code
        == 302
    )
    monkeypatch.setattr(state.catalog, "clock", lambda: now + timedelta(days=7))
    assert (
        requests.get(link, headers=ALICE, timeout=10, allow_redirects=False).status_code
        == 404
    )


def test_pending_and_failed_mirrors(
    make_gateway: Callable[..., Flask], redis_db: str, fake: Any
) -> None:
    app = make_gateway(
        {"INDOX_MEDIA_REDIS_URL": redis_db, "INDOX_MEDIA_JOB_RETRIES": []}
    )
    client = app.test_client()
    item = create_clip(client)
    pending = client.get(f"{P}/media/{item['asset_id']}", headers=ALICE).get_json()
    assert (
        pending["status"] == "pending"
        and pending["resemble_url"] == item["resemble_url"]
    )
    stable = client.get(f"{P}/media/{item['asset_id']}/audio", headers=ALICE)
    assert (
        stable.status_code == 302 and stable.headers["Location"] == item["resemble_url"]
    )
    fake.files.clear()
    work(app)
    assert (
        client.get(f"{P}/media/{item['asset_id']}", headers=ALICE).get_json()["status"]
        == "failed"
    )
    # Deleting cancels the mirror: nothing reappears when the job is re-run.
    assert (
        client.delete(f"{P}/media/{item['asset_id']}", headers=ALICE).status_code == 204
    )
    assert client.get(f"{P}/media/{item['asset_id']}", headers=ALICE).status_code == 404


def test_uploaded_assets_are_inputs(served: tuple[Flask, str], fake: Any) -> None:
    app, base = served
    data = (AUDIO_DIR / "tone-1s.wav").read_bytes()
    up = upload(base, data, purpose="audio_job_input").json()
    for ref in (up["asset_id"], up["audio_url"]):
        job = requests.post(
            f"{base}{P}/enhance", json={"audio_url": ref}, headers=ALICE, timeout=10
        ).json()
        assert fake.jobs[job["uuid"]]["input"] == data  # the bytes, sent as a file
    stt = requests.post(
        f"{base}{P}/stt", json={"audio_url": up["asset_id"]}, headers=ALICE, timeout=10
    ).json()
    sent = fake.jobs[stt["item"]["uuid"]]["file_url"]
    assert requests.get(sent, timeout=10).content == data  # a fresh presigned URL
    voice = requests.post(
        f"{base}{P}/voices/v1/recordings",
        json={"fields": {"audio_url": up["asset_id"], "name": "n", "text": "t"}},
        headers=ALICE,
        timeout=10,
    ).json()["item"]
    assert voice["asset_class"] == "voice_recordings"
    stolen = requests.post(
        f"{base}{P}/enhance",
        json={"audio_url": up["asset_id"]},
        headers=BOB,
        timeout=10,
    )
    assert stolen.status_code == 422


def test_upload_streams_to_storage(
    make_gateway: Callable[..., Flask], tmp_path: Any
) -> None:
    """A body larger than werkzeug's in-memory threshold goes through a file."""
    app = make_gateway()
    data = b"RIFF\0\0\0\0WAVE" + bytes(3 * 1024 * 1024)
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(data), "big.wav")}
    )
    response = app.test_client().post(
        f"{P}/uploads",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=ALICE,
    )
    assert response.status_code == 201
    key = response.get_json()["key"]
    with app.extensions["indox_media"].catalog.primary.open(key) as stored:
        assert stored.read() == data


@pytest.mark.parametrize("down", ["redis", "storage"])
def test_outages_are_json_502s(make_gateway: Callable[..., Flask], down: str) -> None:
    """Redis or the bucket down: clear JSON errors, never a 500."""
    from flask_indox_media.testing import free_port

    dead = f"127.0.0.1:{free_port()}"
    config: dict[str, Any] = {"INDOX_MEDIA_REDIS_URL": f"redis://{dead}/0"}
    if down == "storage":
        config.update(
            {
                "INDOX_MEDIA_STORAGE_BACKEND": "r2",
                "INDOX_MEDIA_R2_ENDPOINT_URL": f"http://{dead}",
                "INDOX_MEDIA_R2_BUCKET": "gone",
                "INDOX_MEDIA_R2_ACCESS_KEY_ID": "testing",
                "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "testing",
            }
        )
    app = make_gateway(config)
    client = app.test_client()
    state = app.extensions["indox_media"]
    missing = state.catalog.asset_id(state.catalog.new("tts", "alice", "wav"))
    expected = {
        "redis": "the job queue is unavailable",
        "storage": "the media storage is unavailable",
    }
    response = client.get(f"{P}/media/{missing}", headers=ALICE)
    assert response.status_code == 502
    assert response.get_json()["message"] == expected[down]
    if down == "storage":
        upload = client.post(
            f"{P}/uploads",
            data={"file": (io.BytesIO(wav_bytes(0.1)), "a.wav")},
            headers=ALICE,
        )
        assert (
            upload.status_code == 502 and upload.get_json()["message"] == expected[down]
        )


def test_a_listing_keeps_resemble_url_and_the_type(
    make_gateway: Callable[..., Flask], fake: Any
) -> None:
    app = make_gateway()
    client = app.test_client()
    clip = create_clip(client)
    listed = client.get(f"{P}/media", headers=ALICE).get_json()
    [item] = [i for i in listed if i["asset_id"] == clip["asset_id"]]
    assert item["resemble_url"] == clip["resemble_url"]
    assert item["content_type"] == "audio/wav" and item["status"] == "mirrored"
    assert item == client.get(
        f"{P}/media/{clip['asset_id']}", headers=ALICE
    ).get_json() | {
        "audio_url": item["audio_url"],
        "playback_url": item["playback_url"],
    }


# Streaming uploads: purpose before the file ----------------------------------


def form_body(*parts: tuple[str, bytes, str | None], boundary: str = "zz") -> bytes:
    """A multipart body with ``(name, value, file name or None)`` parts in order."""
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename else ""
        )
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


@pytest.fixture
def spools(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The spools the upload route makes."""
    made: list[object] = []
    real = uploads.new_spool

    def counted() -> Any:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(uploads, "new_spool", counted)
    return made


@pytest.mark.parametrize("purpose", ["stt_input", ""])
def test_purpose_first_streams_without_a_spool(
    served: tuple[Flask, str], spools: list[object], purpose: str
) -> None:
    app, base = served
    data = wav_bytes(0.5)
    body = form_body(("purpose", purpose.encode(), None), ("file", data, "a.wav"))
    response = requests.post(
        f"{base}{P}/uploads",
        data=body,
        headers={**ALICE, "Content-Type": "multipart/form-data; boundary=zz"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert spools == []
    got = response.json()
    assert got["key"].startswith("stt-input/" if purpose else "uploads/")
    assert requests.get(got["audio_url"], timeout=10).content == data


def test_file_first_is_spooled(served: tuple[Flask, str], spools: list[object]) -> None:
    _, base = served
    data = wav_bytes(0.5)
    body = form_body(("file", data, "a.wav"), ("purpose", b"stt_input", None))
    response = requests.post(
        f"{base}{P}/uploads",
        data=body,
        headers={**ALICE, "Content-Type": "multipart/form-data; boundary=zz"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert len(spools) == 1 and response.json()["key"].startswith("stt-input/")


@pytest.mark.parametrize(
    ("file", "status"),
    [
        (b"RIFF\0\0\0\0WAVE" + bytes(3 * 1024 * 1024), 413),
        ((AUDIO_DIR / "not-audio.pdf").read_bytes(), 415),
        (MP4_VIDEO, 415),  # video, which voice_clone does not take
        (b"", 422),
    ],
)
def test_the_streaming_path_sniffs_and_limits(
    served: tuple[Flask, str], spools: list[object], file: bytes, status: int
) -> None:
    app, base = served
    body = form_body(("purpose", b"voice_clone", None), ("file", file, "a.wav"))
    response = requests.post(
        f"{base}{P}/uploads",
        data=iter([body]),  # chunked: no Content-Length to refuse it early
        headers={**ALICE, "Content-Type": "multipart/form-data; boundary=zz"},
        timeout=10,
    )
    assert response.status_code == status, response.text
    assert spools == [] and stored_keys(app) == []


@pytest.mark.parametrize("backend", ["local", "r2"])
@pytest.mark.parametrize("cut", ["in the file", "after the file"])
def test_a_body_cut_short_leaves_no_object(
    request: pytest.FixtureRequest,
    make_gateway: Callable[..., Flask],
    backend: str,
    cut: str,
) -> None:
    config = (
        r2_config(request.getfixturevalue("moto_endpoint")) if backend == "r2" else {}
    )
    app = make_gateway(
        {
            **config,
            "INDOX_MEDIA_MAX_UPLOAD_BYTES": 32 * 1024 * 1024,
            # Small parts, so the cut comes after some were sent.
            "INDOX_MEDIA_MULTIPART_THRESHOLD": 5 * 1024 * 1024,
            "INDOX_MEDIA_MULTIPART_CHUNKSIZE": 5 * 1024 * 1024,
        }
    )
    data = b"RIFF\0\0\0\0WAVE" + bytes(12 * 1024 * 1024)
    body = form_body(("purpose", b"stt_input", None), ("file", data, "a.wav"))
    sent = 11 * 1024 * 1024 if cut == "in the file" else len(body) - 6
    # The client goes away: the body ends before its declared length.
    response = app.test_client().post(
        f"{P}/uploads",
        input_stream=io.BytesIO(body[:sent]),
        content_length=len(body),
        content_type="multipart/form-data; boundary=zz",
        headers=ALICE,
    )
    assert response.status_code == 400
    assert stored_keys(app) == []
    primary = app.extensions["indox_media"].catalog.primary
    if backend == "r2":
        listed = primary.client.list_multipart_uploads(Bucket=primary.bucket)
        assert listed.get("Uploads", []) == []
    else:
        assert [p for p in Path(primary.root).rglob("*") if p.is_file()] == []


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 400), min_size=1, max_size=6),
    file=st.binary(max_size=3000),
)
def test_form_stream_reads_the_same_bytes_for_any_chunking(
    sizes: list[int], file: bytes
) -> None:
    body = io.BytesIO(
        form_body(
            ("purpose", b"stt_input", None),
            ("file", file, "a.bin"),
            ("other", b"x" * 50, "b.bin"),
        )
    )
    turn = iter(range(10**9))
    form = FormStream(
        lambda n: body.read(min(n, sizes[next(turn) % len(sizes)])),
        b"zz",
        max_parts=5,
        max_field_bytes=100,
    )
    part = form.next_file()
    assert part is not None and part.filename == "a.bin"
    assert form.fields == {"purpose": "stt_input"}
    got, buffer = bytearray(), bytearray(333)
    while count := form.readinto(memoryview(buffer)):
        got += buffer[:count]
    assert bytes(got) == file
    form.finish()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (  # LF line breaks, a preamble and an epilogue
            "multipart/form-data; boundary=zz",
            b'preamble\n--zz\ncontent-disposition: form-data; name="purpose"\n\n'
            b"stt_input\n--zz\nContent-Disposition: form-data; name=file; "
            b'filename="a.wav"\nContent-Type: audio/wav\n\n{file}\n--zz--\nepilogue',
        ),
        (  # a quoted boundary, spaces after the delimiters
            'multipart/form-data; boundary="a b:c"',
            b'--a b:c  \r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            b"stt_input\r\n--a b:c\t\r\nContent-Disposition: form-data; "
            b'name="file"; filename="a \\"b\\".wav"\r\n\r\n{file}\r\n--a b:c--\r\n',
        ),
    ],
)
def test_multipart_variants_werkzeug_reads_stream_too(
    served: tuple[Flask, str], spools: list[object], content_type: str, body: bytes
) -> None:
    _, base = served
    # The file holds what looks like delimiters, and arrives in odd pieces.
    data = wav_bytes(0.2) + b"\r\n--zz-\r\n--a b:cX\n--z\r" + bytes(5000)
    whole = body.replace(b"{file}", data)
    response = requests.post(
        f"{base}{P}/uploads",
        data=(whole[i : i + 777] for i in range(0, len(whole), 777)),
        headers={**ALICE, "Content-Type": content_type},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert spools == [] and response.json()["key"].startswith("stt-input/")
    assert requests.get(response.json()["audio_url"], timeout=10).content == data
