"""The fake Resemble upstream on its own: the official SDK against it, its
callbacks, and the faults it injects."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, request
from resemble import Resemble

from flask_indox_media.testing import FakeResemble, serve_wsgi, wav_bytes
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY

V2 = Resemble.v2
TOKEN = {"Authorization": f"Token token={DEFAULT_KEY}"}


def is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def is_mp3(data: bytes) -> bool:
    return data[:2] == b"\xff\xfb"


@pytest.fixture
def sdk(fake: FakeResemble, upstream: str) -> Iterator[str]:
    """The SDK pointed straight at the served fake; restored afterwards."""
    saved = (
        Resemble._token,
        Resemble._base_url,
        Resemble._syn_server_url,
        Resemble._direct_syn_server_url,
    )
    Resemble.api_key(DEFAULT_KEY)
    Resemble.base_url(upstream + "/api/")
    Resemble.syn_server_url(upstream + "/")
    Resemble.direct_syn_server_url(upstream + "/synthesize")
    try:
        yield upstream
    finally:
        Resemble.api_key(saved[0])
        Resemble.base_url(saved[1])
        Resemble._syn_server_url = saved[2]
        Resemble.direct_syn_server_url(saved[3])


class Receiver:
    """A loopback app that collects the callbacks POSTed to it."""

    def __init__(self) -> None:
        self.payloads: list[tuple[str, dict[str, Any]]] = []
        self.app = Flask("receiver")

        @self.app.post("/<path:name>")
        def hook(name: str) -> tuple[str, int]:
            self.payloads.append((name, request.get_json()))
            return "", 204


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    got = Receiver()
    with serve_wsgi(got.app) as url:
        yield got, url


# The official SDK, every public method ------------------------------------------

#: Every public method of ``Resemble.v2``; each is called below.
SDK_METHODS = {
    "batches": {"all", "create", "delete", "get"},
    "clips": {
        "all",
        "create_async",
        "create_direct",
        "create_sync",
        "delete",
        "get",
        "stream",
        "update_async",
    },
    "deepfake_detection": {"detect", "detect_and_get", "get", "secure_upload"},
    "edits": {"all", "create", "create_and_get", "get"},
    "phonemes": {"all", "create", "delete"},
    "projects": {"all", "create", "delete", "get", "update"},
    "recordings": {"all", "create", "delete", "get", "update"},
    "term_substitutions": {"all", "create", "delete"},
    "voices": {"all", "build", "create", "delete", "get", "update"},
}


def test_the_method_list_is_the_whole_sdk() -> None:
    groups = {g for g in vars(type(V2)) if not g.startswith("_")}
    assert groups == set(SDK_METHODS)
    for group in groups:
        methods = {m for m in dir(getattr(V2, group)) if not m.startswith("_")}
        assert methods == SDK_METHODS[group], group


def test_sdk_phonemes_and_term_substitutions(sdk: str) -> None:
    created = V2.phonemes.create("pressure", "ˈprɛʃər")
    assert created["success"] and created["item"]["word"] == "pressure"
    listed = V2.phonemes.all(1, 10)
    assert [p["uuid"] for p in listed["items"]] == [created["item"]["uuid"]]
    assert V2.phonemes.delete(created["item"]["uuid"]) == {"success": True}
    assert V2.phonemes.all(1)["items"] == []
    assert V2.phonemes.delete("nope")["success"] is False

    term = V2.term_substitutions.create("Vodaphone", "Voduhphone")
    assert term["item"]["replacement_text"] == "Voduhphone"
    assert V2.term_substitutions.all(1)["items"][0]["uuid"] == term["item"]["uuid"]
    assert V2.term_substitutions.delete(term["item"]["uuid"])["success"]
    assert V2.term_substitutions.all(1, 10)["items"] == []


def test_sdk_projects(sdk: str) -> None:
    created = V2.projects.create("Demo", "a project", is_collaborative=True)
    uuid = created["item"]["uuid"]
    assert created["success"] and created["item"]["is_collaborative"] is True
    assert V2.projects.get(uuid)["item"]["name"] == "Demo"
    updated = V2.projects.update(uuid, "Renamed", "changed", is_archived=True)
    assert updated["item"]["name"] == "Renamed" and updated["item"]["is_archived"]
    assert [p["uuid"] for p in V2.projects.all(1, 10)["items"]] == [uuid]
    assert V2.projects.delete(uuid)["success"]
    missing = V2.projects.get(uuid)
    assert missing["success"] is False and "not found" in missing["message"]


def test_sdk_voices(sdk: str, fake: FakeResemble) -> None:
    listed = V2.voices.all(1, 10)
    assert [v["uuid"] for v in listed["items"]] == ["voice-1", "voice-2"]
    with_samples = V2.voices.all(1, sample_url=True, filters=True)
    sample = requests.get(with_samples["items"][0]["sample_url"], timeout=10)
    assert is_wav(sample.content)
    consent = base64.b64encode(wav_bytes(0.2)).decode()
    created = V2.voices.create("Mine", consent, voice_type="rapid")
    uuid = created["item"]["uuid"]
    assert created["success"] and created["item"]["status"] == "initializing"
    assert V2.voices.update(uuid, "Renamed")["item"]["name"] == "Renamed"
    assert V2.voices.build(uuid, fill=True) == {
        "success": True,
        "message": "Voice build started",
    }
    got = V2.voices.get(uuid, sample_url=True)
    assert got["item"]["status"] == "finished" and "sample_url" in got["item"]
    assert V2.voices.delete(uuid)["success"]
    assert V2.voices.get(uuid)["success"] is False
    assert V2.voices.create("x", "not base64!")["success"] is False


def test_sdk_recordings(sdk: str, fake: FakeResemble) -> None:
    audio = wav_bytes(0.3)
    created = V2.recordings.create(
        "voice-1", io.BytesIO(audio), "line1", "Hello", True, "neutral"
    )
    item = created["item"]
    assert created["success"] and item["is_active"] is True and item["fill"] is False
    assert requests.get(item["audio_src"], timeout=10).content == audio
    assert V2.recordings.get("voice-1", item["uuid"])["item"]["name"] == "line1"
    updated = V2.recordings.update(
        "voice-1", item["uuid"], "renamed", "Hi", False, "happy"
    )
    assert (
        updated["item"]["name"] == "renamed" and updated["item"]["is_active"] is False
    )
    assert [r["uuid"] for r in V2.recordings.all("voice-1", 1, 10)["items"]] == [
        item["uuid"]
    ]
    assert V2.recordings.all("voice-2", 1)["items"] == []  # per voice
    assert V2.recordings.delete("voice-1", item["uuid"])["success"]
    assert V2.recordings.get("voice-1", item["uuid"])["success"] is False


def test_sdk_clips(sdk: str, fake: FakeResemble, receiver: Any) -> None:
    got, hook = receiver
    sync = V2.clips.create_sync(
        "proj-1", "voice-1", "Hello there", title="t", include_timestamps=True, raw=True
    )
    item = sync["item"]
    audio = requests.get(item["audio_src"], timeout=10).content
    assert is_wav(audio) and base64.b64decode(item["raw_audio"]) == audio
    assert item["timestamps"]["graph_chars"][:5] == list("Hello")
    mp3 = V2.clips.create_sync("proj-1", "voice-1", "Mp3", output_format="mp3")
    assert is_mp3(requests.get(mp3["item"]["audio_src"], timeout=10).content)

    queued = V2.clips.create_async("proj-1", "voice-1", hook + "/clip", "Later")
    assert queued["success"] and "audio_src" not in queued["item"]
    updated = V2.clips.update_async(
        "proj-1", item["uuid"], "voice-2", hook + "/update", "Changed"
    )
    assert updated["item"]["body"] == "Changed"
    assert fake.deliver_callbacks() == [204, 204]
    (_, created), (_, changed) = got.payloads
    assert created["id"] == queued["item"]["uuid"] and created["project_id"] == "proj-1"
    assert is_wav(requests.get(created["url"], timeout=10).content)
    assert changed["id"] == item["uuid"] and changed["url"] != item["audio_src"]

    assert V2.clips.get("proj-1", item["uuid"])["item"]["audio_src"] == changed["url"]
    assert len(V2.clips.all("proj-1", 1, 10)["items"]) == 3
    assert V2.clips.all("proj-2", 1)["items"] == []
    assert V2.clips.delete("proj-1", item["uuid"])["success"]
    assert V2.clips.get("proj-1", item["uuid"])["success"] is False


def test_sdk_direct_synthesis_and_stream(sdk: str, fake: FakeResemble) -> None:
    direct = V2.clips.create_direct("proj-1", "voice-1", "Hi", output_format="mp3")
    assert direct["success"] and is_mp3(base64.b64decode(direct["audio_content"]))
    assert fake.received[-1]["json"]["project_uuid"] == "proj-1"
    assert fake.received[-1]["headers"]["Authorization"] == f"Bearer {DEFAULT_KEY}"

    pcm = b"".join(V2.clips.stream("proj-1", "voice-1", "Streamed", sample_rate=16000))
    assert fake.received[-1]["headers"]["X-Access-Token"] == DEFAULT_KEY
    assert pcm == wav_bytes(0.5, rate=16000)[44:]  # the header dropped, PCM16 kept
    with_header = b"".join(
        V2.clips.stream(
            "proj-1", "voice-1", "x", buffer_size=1024, ignore_wav_header=False
        )
    )
    assert is_wav(with_header)


def test_stream_is_sent_in_chunks(upstream: str) -> None:
    with requests.post(
        upstream + "/stream",
        json={"voice_uuid": "v", "data": "x"},
        headers={"x-access-token": DEFAULT_KEY},
        stream=True,
        timeout=10,
    ) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        chunks = list(response.raw.read_chunked())
    assert len(chunks) > 2 and is_wav(chunks[0][:44])


def test_sdk_batches(sdk: str, fake: FakeResemble) -> None:
    created = V2.batches.create(
        "proj-1", "voice-1", ["One.", ["titled", "Two."]], output_format="mp3"
    )
    uuid = created["item"]["uuid"]
    assert created["item"]["total_count"] == 2
    assert created["item"]["completed_count"] == 0
    running = V2.batches.get("proj-1", uuid)["item"]
    assert running["completed_count"] == 0 and "clips" not in running
    done = V2.batches.get("proj-1", uuid)["item"]
    assert done["completed_count"] == 2 and done["failed_count"] == 0
    assert [c["title"] for c in done["clips"]] == [None, "titled"]
    for clip in done["clips"]:
        assert is_mp3(requests.get(clip["audio_src"], timeout=10).content)
    assert [b["uuid"] for b in V2.batches.all("proj-1", 1, 10)["items"]] == [uuid]
    assert V2.batches.delete("proj-1", uuid)["success"]
    assert V2.batches.get("proj-1", uuid)["success"] is False
    assert V2.batches.create("proj-1", "voice-1", [])["success"] is False


def test_sdk_edits(sdk: str, fake: FakeResemble) -> None:
    audio = wav_bytes(0.2)
    created = V2.edits.create("hello", "goodbye", "voice-1", io.BytesIO(audio))
    uuid = created["item"]["uuid"]
    assert created["item"]["target_transcript"] == "goodbye"
    assert "result_audio_url" not in V2.edits.get(uuid)["item"]
    assert [e["uuid"] for e in V2.edits.all(1)["items"]] == [uuid]
    done = V2.edits.create_and_get(
        "a", "b", "voice-1", io.BytesIO(audio), retries=3, wait_time=0
    )
    assert is_wav(requests.get(done["item"]["result_audio_url"], timeout=10).content)


def check_deepfake_detection(fake: FakeResemble) -> None:
    """Every deepfake_detection call of the SDK, wherever it points (the fake
    itself here; the gateway in tests/test_sdk.py): nothing in it is audio to
    mirror, so both places expect the same."""
    upload = V2.deepfake_detection.secure_upload(io.BytesIO(wav_bytes(0.2)))
    assert upload["success"] and upload["token"].startswith("sut_")
    started = V2.deepfake_detection.detect(url="https://example.test/a.wav")
    uuid = started["item"]["uuid"]
    assert started["item"]["status"] == "processing"
    assert V2.deepfake_detection.get(uuid)["item"]["status"] == "processing"
    assert V2.deepfake_detection.get(uuid)["item"]["metrics"]["label"] == "fake"
    waited = V2.deepfake_detection.detect(
        file=io.BytesIO(wav_bytes(0.2)), synchronous=True
    )
    assert waited["item"]["status"] == "completed"
    assert fake.received[-1]["headers"]["Prefer"] == "wait"
    polled = V2.deepfake_detection.detect_and_get(
        url="https://example.test/b.wav", retries=3, wait_time=0
    )
    assert polled["item"]["status"] == "completed"
    assert V2.deepfake_detection.get("nope")["success"] is False


def test_sdk_deepfake_detection(sdk: str, fake: FakeResemble) -> None:
    check_deepfake_detection(fake)


# Errors ------------------------------------------------------------------------


def test_errors_are_json(upstream: str) -> None:
    for method, path, headers, status in (
        ("GET", "/api/v2/nowhere", TOKEN, 404),
        ("GET", "/nowhere", TOKEN, 404),
        ("GET", "/api/v2/voices", {"Authorization": "Token token=wrong"}, 401),
        ("GET", "/api/v2/voices", {}, 401),
        ("DELETE", "/api/v2/phonemes", TOKEN, 405),
        ("POST", "/api/v2/projects", TOKEN, 400),
        ("GET", "/files/missing.wav", {}, 404),
    ):
        response = requests.request(method, upstream + path, headers=headers, timeout=5)
        assert response.status_code == status, path
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert body["success"] is False and body["message"]


# Callbacks ---------------------------------------------------------------------


def test_auto_callbacks_are_posted_over_http(receiver: Any) -> None:
    got, hook = receiver
    delays: list[float] = []
    fake = FakeResemble(callbacks="auto", callback_delay=0.25, sleep=delays.append)
    with serve_wsgi(fake.app) as up:
        clip = requests.post(
            up + "/api/v2/projects/p/clips",
            json={"voice_uuid": "v", "body": "Hi", "callback_uri": hook + "/clip"},
            headers=TOKEN,
            timeout=10,
        ).json()["item"]
        requests.post(
            up + "/api/v2/projects/p/batch",
            json={"voice_uuid": "v", "body": ["a", "b"], "callback_uri": hook + "/b"},
            headers=TOKEN,
            timeout=10,
        )
        requests.post(
            up + "/api/v2/speech-to-text",
            json={"url": "https://example.test/a.wav", "callback_url": hook + "/stt"},
            headers=TOKEN,
            timeout=10,
        )
        requests.post(
            up + "/api/v2/detect",
            json={"url": "https://example.test/a.wav", "callback_url": hook + "/det"},
            headers=TOKEN,
            timeout=10,
        )
        deliveries = fake.wait_for_callbacks()
    assert fake.pending_callbacks == []
    assert sorted(d.status for d in deliveries) == [204] * 4
    assert delays == [0.25] * 4
    payloads = dict(got.payloads)
    assert payloads["clip"]["id"] == clip["uuid"]
    assert [c["body"] for c in payloads["b"]["clips"]] == ["a", "b"]
    assert payloads["stt"]["item"]["status"] == "completed"
    assert payloads["det"]["item"]["metrics"]["label"] == "fake"


def test_manual_callbacks_wait_for_delivery(
    fake: FakeResemble, upstream: str, receiver: Any
) -> None:
    got, hook = receiver
    voice = requests.post(
        upstream + "/api/v2/voices",
        json={"name": "Mine", "callback_uri": hook + "/voice"},
        headers=TOKEN,
        timeout=10,
    ).json()["item"]
    requests.post(
        upstream + f"/api/v2/voices/{voice['uuid']}/build",
        json={"fill": False},
        headers=TOKEN,
        timeout=10,
    )
    assert got.payloads == [] and len(fake.pending_callbacks) == 1
    assert fake.deliver_callbacks() == [204]
    assert got.payloads[0][1]["item"]["status"] == "finished"
    assert [d.status for d in fake.delivered_callbacks] == [204]


def test_auto_callback_to_a_dead_receiver_is_recorded() -> None:
    fake = FakeResemble(callbacks="auto")
    with serve_wsgi(fake.app) as up:
        requests.post(
            up + "/api/v2/projects/p/clips",
            json={
                "voice_uuid": "v",
                "body": "Hi",
                "callback_uri": "http://127.0.0.1:9/x",
            },
            headers=TOKEN,
            timeout=10,
        )
        (delivery,) = fake.wait_for_callbacks()
    assert delivery.status is None and delivery.error


# Latency and failures ----------------------------------------------------------


def test_latency_is_slept_before_api_and_file_answers() -> None:
    slept: list[float] = []
    fake = FakeResemble(latency=0.2, file_latency=0.5, sleep=slept.append)
    with serve_wsgi(fake.app) as up:
        clip = requests.post(
            up + "/api/v2/projects/p/clips",
            json={"voice_uuid": "v", "body": "Hi"},
            headers=TOKEN,
            timeout=10,
        ).json()["item"]
        assert slept == [0.2]
        requests.get(clip["audio_src"], timeout=10)
        assert slept == [0.2, 0.5]
        fake.latency = 0.0
        requests.get(up + "/api/v2/voices", headers=TOKEN, timeout=10)
    assert slept == [0.2, 0.5]


def statuses(fake: FakeResemble, n: int) -> list[int]:
    with serve_wsgi(fake.app) as up:
        return [
            requests.get(up + "/api/v2/voices", headers=TOKEN, timeout=10).status_code
            for _ in range(n)
        ]


def test_failure_rate_is_seeded() -> None:
    first = statuses(FakeResemble(failure_rate=0.5, seed=7), 20)
    again = statuses(FakeResemble(failure_rate=0.5, seed=7), 20)
    assert first == again and {200, 500} == set(first)
    assert statuses(FakeResemble(failure_rate=1.0), 3) == [500, 500, 500]
    with pytest.raises(ValueError):
        FakeResemble(failure_rate=1.5)


def test_fail_next(fake: FakeResemble, upstream: str) -> None:
    fake.fail_next(2, status=503)
    fake.fail_next(1, status=429, path="/api/v2/projects")
    got = [
        requests.get(upstream + path, headers=TOKEN, timeout=10)
        for path in ("/api/v2/voices", "/api/v2/voices", "/api/v2/voices")
    ]
    assert [r.status_code for r in got] == [503, 503, 200]
    assert got[0].json() == {"success": False, "message": "injected failure (503)"}
    assert len(fake.received) == 3  # failed requests are recorded too
    projects = upstream + "/api/v2/projects"
    assert requests.get(projects, headers=TOKEN, timeout=10).status_code == 429
    assert requests.get(projects, headers=TOKEN, timeout=10).status_code == 200


# Broken files ------------------------------------------------------------------


def make_file(upstream: str) -> str:
    response = requests.post(
        upstream + "/api/v2/projects/p/clips",
        json={"voice_uuid": "v", "body": "Hi"},
        headers=TOKEN,
        timeout=10,
    )
    url: str = response.json()["item"]["audio_src"]
    return url


def test_a_cut_file_ends_short(fake: FakeResemble, upstream: str) -> None:
    url = make_file(upstream)
    whole = requests.get(url, timeout=10).content
    fake.break_file(url, "cut", after=100)
    with requests.get(url, stream=True, timeout=10) as response:
        assert response.headers["Content-Length"] == str(len(whole))
        assert response.raw.read(100) == whole[:100]
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            response.content  # noqa: B018 - reading the rest is the test
    fake.file_faults.clear()
    assert requests.get(url, timeout=10).content == whole


def test_a_stalled_file_blocks_until_released(
    fake: FakeResemble, upstream: str
) -> None:
    url = make_file(upstream)
    fake.break_file(url, "stall", after=10)
    errors: list[Exception] = []
    finished = threading.Event()
    with requests.get(url, stream=True, timeout=30) as response:
        assert response.raw.read(10) == fake.files[url.rsplit("/", 1)[1]][0][:10]

        def read_rest() -> None:
            try:
                response.raw.read()
            except Exception as exc:
                errors.append(exc)
            finished.set()

        reader = threading.Thread(target=read_rest)
        reader.start()
        try:
            # Still blocked (a slow machine only makes this more certain).
            assert not finished.wait(0.2)
        finally:
            fake.release_stalls()
            reader.join(30)
    assert finished.is_set() and len(errors) == 1  # released: the body ends short


def test_a_job_output_is_made_once_when_polls_race() -> None:
    fake = FakeResemble()
    job: dict[str, Any] = {}
    made: list[int] = []
    start = threading.Barrier(8)

    def make() -> str:
        made.append(1)
        threading.Event().wait(0.05)  # a slow maker widens the race
        return f"file-{len(made)}"

    def poll() -> None:
        start.wait()
        outputs.append(fake.once(job, "file", make))

    outputs: list[str] = []
    threads = [threading.Thread(target=poll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [1] and outputs == ["file-1"] * 8
