"""The official ``resemble`` SDK (1.9.0), every public method, unchanged,
through the gateway: the example app served over HTTP in front of the fake
Resemble, the SDK pointed at the gateway with the four ``Resemble.*`` calls
of docs/gateway.rst. Where an answer carries audio, its asset fields are
checked: ``audio_url`` serves the very bytes of Resemble's URL."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from resemble import Resemble

from flask_indox_media.testing import FakeResemble, serve_wsgi, wav_bytes
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY
from tests.test_fake_resemble import (
    SDK_METHODS,
    Receiver,
    check_deepfake_detection,
    is_mp3,
    is_wav,
)

V2 = Resemble.v2
P = "/api/v1/resemble"

#: What each SDK method is checked for through the gateway (the keys are the
#: whole public surface of ``Resemble.v2``: see the first test).
COVERED: dict[str, dict[str, str]] = {
    "phonemes": {
        "all": "lists",
        "create": "creates",
        "delete": "deletes, and answers Resemble's 404 body",
    },
    "term_substitutions": {"all": "lists", "create": "creates", "delete": "deletes"},
    "projects": {
        "all": "lists",
        "create": "creates",
        "get": "gets, and Resemble's 404 body",
        "update": "updates (PUT)",
        "delete": "deletes",
    },
    "voices": {
        "all": "lists, sample_url mirrored (class voices)",
        "create": "creates",
        "update": "updates (PUT)",
        "build": "builds",
        "get": "gets, sample_url mirrored",
        "delete": "deletes",
    },
    "recordings": {
        "all": "lists, audio_src mirrored",
        "create": "multipart upload, audio_src mirrored (permanent)",
        "get": "gets",
        "update": "updates (PUT)",
        "delete": "deletes",
    },
    "clips": {
        "create_sync": "audio_src mirrored (tts)",
        "create_async": "callback through the gateway, url mirrored",
        "update_async": "callback through the gateway, url mirrored",
        "create_direct": "inline audio stored (tts)",
        "stream": "PCM relayed as it arrives, teed to a tts object",
        "get": "audio_src mirrored, same asset as the callback's",
        "all": "lists, each audio_src mirrored",
        "delete": "deletes",
    },
    "batches": {
        "create": "creates",
        "get": "each clip's audio_src mirrored",
        "all": "lists",
        "delete": "deletes",
    },
    "edits": {
        "create": "multipart upload",
        "get": "gets",
        "all": "lists",
        "create_and_get": "polls until result_audio_url, mirrored (audio_jobs)",
    },
    "deepfake_detection": {
        "secure_upload": "multipart upload, token",
        "detect": "by url, by file (secure upload first), Prefer: wait",
        "get": "polls",
        "detect_and_get": "polls to completed",
    },
}


def test_every_public_sdk_method_is_covered() -> None:
    groups = {g for g in vars(type(V2)) if not g.startswith("_")}
    public = {
        g: {m for m in dir(getattr(V2, g)) if not m.startswith("_")} for g in groups
    }
    assert public == {g: set(methods) for g, methods in COVERED.items()}
    assert public == SDK_METHODS


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    got = Receiver()
    with serve_wsgi(got.app) as url:
        yield got, url


@pytest.fixture
def gateway_app(
    make_gateway: Callable[..., Flask], upstream: str, receiver: tuple[Receiver, str]
) -> Flask:
    # The receiver is on loopback over http: listed, so callbacks may go there.
    hosts = f"127.0.0.1:{_port(upstream)},127.0.0.1:{_port(receiver[1])}"
    return make_gateway({"INDOX_MEDIA_SOURCE_HOSTS": hosts})


@pytest.fixture
def gw(gateway_app: Flask) -> Iterator[str]:
    """The SDK pointed at the served gateway (as docs/gateway.rst says);
    its class-level settings restored afterwards."""
    saved = (
        Resemble._token,
        Resemble._base_url,
        Resemble._syn_server_url,
        Resemble._direct_syn_server_url,
    )
    with serve_wsgi(gateway_app) as url:
        Resemble.api_key("key-a")
        Resemble.base_url(url + P + "/")
        Resemble.direct_syn_server_url(url + P + "/synthesize")
        Resemble.syn_server_url(url + P + "/")
        try:
            yield url
        finally:
            Resemble.api_key(saved[0])
            Resemble.base_url(saved[1])
            Resemble._syn_server_url = saved[2]
            Resemble.direct_syn_server_url(saved[3])


def get(url: str) -> bytes:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, url
    return response.content


def mirrored(obj: dict[str, Any], field: str, asset_class: str) -> bytes:
    """Check ``obj``'s asset fields for the URL in ``field``; its bytes."""
    assert obj["asset_class"] == asset_class and obj["asset_id"].startswith("ast_")
    assert obj["resemble_url"] == obj[field]
    data = get(obj["audio_url"])
    assert data == get(obj["resemble_url"])
    if asset_class in ("voices", "voice_recordings"):
        assert obj["expires_at"] is None  # permanent
    else:
        expires = datetime.fromisoformat(obj["expires_at"].replace("Z", "+00:00"))
        assert expires - datetime.now(expires.tzinfo) > timedelta(days=1)
    assert obj["playback_url"].startswith("http://127.0.0.1:")
    return data


def test_phonemes_and_term_substitutions(gw: str, fake: FakeResemble) -> None:
    created = V2.phonemes.create("pressure", "ˈprɛʃər")
    assert created["success"] and created["item"]["word"] == "pressure"
    assert [p["uuid"] for p in V2.phonemes.all(1, 10)["items"]] == [
        created["item"]["uuid"]
    ]
    assert V2.phonemes.delete(created["item"]["uuid"]) == {"success": True}
    assert V2.phonemes.delete("nope")["success"] is False
    # The gateway's key went upstream, never the caller's.
    assert fake.received[-1]["headers"]["Authorization"] == f"Token token={DEFAULT_KEY}"

    term = V2.term_substitutions.create("Vodaphone", "Voduhphone")
    assert term["item"]["replacement_text"] == "Voduhphone"
    assert V2.term_substitutions.all(1)["items"][0]["uuid"] == term["item"]["uuid"]
    assert V2.term_substitutions.delete(term["item"]["uuid"])["success"]
    assert V2.term_substitutions.all(1, 10)["items"] == []


def test_projects(gw: str) -> None:
    created = V2.projects.create("Demo", "a project", is_collaborative=True)
    uuid = created["item"]["uuid"]
    assert V2.projects.get(uuid)["item"]["name"] == "Demo"
    updated = V2.projects.update(uuid, "Renamed", "changed", is_archived=True)
    assert updated["item"]["name"] == "Renamed" and updated["item"]["is_archived"]
    assert [p["uuid"] for p in V2.projects.all(1, 10)["items"]] == [uuid]
    assert V2.projects.delete(uuid)["success"]
    missing = V2.projects.get(uuid)
    assert missing["success"] is False and "not found" in missing["message"]


def test_voices(gw: str) -> None:
    listed = V2.voices.all(1, 10, sample_url=True, filters=True)
    assert [v["uuid"] for v in listed["items"]] == ["voice-1", "voice-2"]
    for voice in listed["items"]:
        assert is_wav(mirrored(voice, "sample_url", "voices"))
    consent = base64.b64encode(wav_bytes(0.2)).decode()
    uuid = V2.voices.create("Mine", consent, voice_type="rapid")["item"]["uuid"]
    assert V2.voices.update(uuid, "Renamed")["item"]["name"] == "Renamed"
    assert V2.voices.build(uuid, fill=True)["success"]
    got = V2.voices.get(uuid, sample_url=True)["item"]
    assert got["status"] == "finished"
    mirrored(got, "sample_url", "voices")
    assert V2.voices.delete(uuid)["success"]
    assert V2.voices.get(uuid)["success"] is False


def test_recordings(gw: str) -> None:
    audio = wav_bytes(0.3)
    item = V2.recordings.create(
        "voice-1", io.BytesIO(audio), "line1", "Hello", True, "neutral"
    )["item"]
    assert mirrored(item, "audio_src", "voice_recordings") == audio
    fetched = V2.recordings.get("voice-1", item["uuid"])["item"]
    assert fetched["name"] == "line1" and fetched["asset_id"] == item["asset_id"]
    updated = V2.recordings.update(
        "voice-1", item["uuid"], "renamed", "Hi", False, "happy"
    )["item"]
    assert updated["name"] == "renamed" and updated["is_active"] is False
    (listed,) = V2.recordings.all("voice-1", 1, 10)["items"]
    assert listed["asset_id"] == item["asset_id"]
    assert V2.recordings.delete("voice-1", item["uuid"])["success"]
    assert V2.recordings.get("voice-1", item["uuid"])["success"] is False


def test_clips_and_callbacks(
    gw: str, fake: FakeResemble, receiver: tuple[Receiver, str]
) -> None:
    got, hook = receiver
    item = V2.clips.create_sync("proj-1", "voice-1", "Hello there", title="t")["item"]
    assert is_wav(mirrored(item, "audio_src", "tts"))
    mp3 = V2.clips.create_sync("proj-1", "voice-1", "Mp3", output_format="mp3")
    assert is_mp3(mirrored(mp3["item"], "audio_src", "tts"))

    queued = V2.clips.create_async("proj-1", "voice-1", hook + "/clip", "Later")
    assert queued["success"] and "audio_src" not in queued["item"]
    updated = V2.clips.update_async(
        "proj-1", item["uuid"], "voice-2", hook + "/update", "Changed"
    )
    assert updated["item"]["body"] == "Changed"
    # Resemble was given the gateway's own callback URL, not the caller's.
    assert all(
        url.startswith(gw + P + "/callbacks/") for url, _ in fake.pending_callbacks
    )
    assert fake.deliver_callbacks() == [200, 200]
    (_, created), (_, changed) = sorted(got.payloads, key=lambda p: p[0])
    assert created["id"] == queued["item"]["uuid"]
    assert is_wav(mirrored(created, "url", "tts"))
    assert changed["id"] == item["uuid"]
    mirrored(changed, "url", "tts")

    again = V2.clips.get("proj-1", item["uuid"])["item"]
    assert again["audio_src"] == changed["url"]
    mirrored(again, "audio_src", "tts")
    listed = V2.clips.all("proj-1", 1, 10)["items"]
    assert len(listed) == 3
    for clip in listed:
        mirrored(clip, "audio_src", "tts")
    assert V2.clips.delete("proj-1", item["uuid"])["success"]
    assert V2.clips.get("proj-1", item["uuid"])["success"] is False


def test_a_resynthesized_clip_gets_a_new_asset(gw: str, fake: FakeResemble) -> None:
    item = V2.clips.create_sync("proj-1", "voice-1", "Before")["item"]
    V2.clips.update_async(
        "proj-1", item["uuid"], "voice-1", "https://x.test/h", "After"
    )
    after = V2.clips.get("proj-1", item["uuid"])["item"]
    assert after["audio_src"] != item["audio_src"]
    assert after["asset_id"] != item["asset_id"]


def test_direct_synthesis(gw: str, fake: FakeResemble) -> None:
    direct = V2.clips.create_direct("proj-1", "voice-1", "Hi", output_format="mp3")
    audio = base64.b64decode(direct["audio_content"])
    assert direct["success"] and is_mp3(audio)
    assert direct["asset_class"] == "tts" and direct["resemble_url"] is None
    assert get(direct["audio_url"]) == audio
    assert fake.received[-1]["json"]["project_uuid"] == "proj-1"
    assert fake.received[-1]["headers"]["Authorization"] == f"Bearer {DEFAULT_KEY}"


def test_stream(gw: str, fake: FakeResemble, gateway_app: Flask) -> None:
    pcm = b"".join(V2.clips.stream("proj-1", "voice-1", "Streamed", sample_rate=16000))
    assert pcm == wav_bytes(0.5, rate=16000)[44:]  # the header dropped, PCM16 kept
    sent = fake.received[-1]
    assert sent["path"] == "/stream" and sent["json"]["project_uuid"] == "proj-1"
    assert sent["headers"]["X-Access-Token"] == DEFAULT_KEY  # the gateway's key
    with_header = b"".join(
        V2.clips.stream(
            "proj-1", "voice-1", "x", buffer_size=1024, ignore_wav_header=False
        )
    )
    assert with_header == wav_bytes(0.5, rate=22050)
    state = gateway_app.extensions["indox_media"]
    stored = list(state.catalog.iter_user_assets("alice"))
    assert len(stored) == 2 and {o.asset_class.name for o in stored} == {"tts"}
    contents = []
    for found in stored:
        with state.catalog.primary.open(found.info.key) as fh:
            contents.append(fh.read())
    assert sorted(contents) == sorted([wav_bytes(0.5, rate=16000), with_header])


def test_batches(gw: str) -> None:
    created = V2.batches.create(
        "proj-1", "voice-1", ["One.", ["titled", "Two."]], output_format="mp3"
    )
    uuid = created["item"]["uuid"]
    assert created["item"]["total_count"] == 2
    assert "clips" not in V2.batches.get("proj-1", uuid)["item"]
    done = V2.batches.get("proj-1", uuid)["item"]
    assert [c["title"] for c in done["clips"]] == [None, "titled"]
    for clip in done["clips"]:
        assert is_mp3(mirrored(clip, "audio_src", "tts"))
    assert [b["uuid"] for b in V2.batches.all("proj-1", 1, 10)["items"]] == [uuid]
    assert V2.batches.delete("proj-1", uuid)["success"]
    assert V2.batches.get("proj-1", uuid)["success"] is False


def test_edits(gw: str) -> None:
    audio = wav_bytes(0.2)
    created = V2.edits.create("hello", "goodbye", "voice-1", io.BytesIO(audio))
    uuid = created["item"]["uuid"]
    assert created["item"]["target_transcript"] == "goodbye"
    assert "result_audio_url" not in V2.edits.get(uuid)["item"]
    assert [e["uuid"] for e in V2.edits.all(1)["items"]] == [uuid]
    done = V2.edits.create_and_get(
        "a", "b", "voice-1", io.BytesIO(audio), retries=3, wait_time=0
    )
    assert is_wav(mirrored(done["item"], "result_audio_url", "audio_jobs"))


def test_deepfake_detection(gw: str, fake: FakeResemble) -> None:
    check_deepfake_detection(fake)
