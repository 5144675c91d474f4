"""The gateway: what the response hook adds (in-process, and through a real
WSGI server), the time from response to visible object with a real worker,
and inline audio in the request versus in a job."""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from flask import Flask, g

from example_app import create_app
from flask_indox_media.testing import FakeResemble, redis_server, serve_wsgi, wav_bytes
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY
from flask_indox_media.web.relay import relay

from . import apps
from .common import (
    MiB,
    bucket,
    gunicorn,
    interleave,
    judged,
    moto_server,
    per_call,
    percentile,
    pick,
    python_env,
    runs_note,
    scaled,
    table,
)

AUTH = {"Authorization": "Bearer demo-key"}
_AUDIO = "https://app.resemble.ai/rails/active_storage/blobs/{}/clip.wav"


def config(
    endpoint: str,
    bucket_name: str,
    redis_url: str | None,
    upstream: str,
    **extra: Any,
) -> dict[str, Any]:
    """The gateway's settings for R2 at ``endpoint`` and the fake upstream."""
    return {
        "INDOX_MEDIA_STORAGE_BACKEND": "r2",
        "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
        "INDOX_MEDIA_R2_BUCKET": bucket_name,
        "INDOX_MEDIA_R2_ACCESS_KEY_ID": "bench",
        "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "bench",
        "INDOX_MEDIA_REDIS_URL": redis_url,
        "INDOX_MEDIA_RESEMBLE_API_KEY": DEFAULT_KEY,
        "INDOX_MEDIA_RESEMBLE_BASE_URL": upstream + "/api/",
        "INDOX_MEDIA_RESEMBLE_SYNTH_URL": upstream + "/",
        "INDOX_MEDIA_SOURCE_HOSTS": "127.0.0.1:" + upstream.rsplit(":", 1)[1],
        **extra,
    }


def as_env(settings: dict[str, Any]) -> dict[str, str]:
    """``settings`` as environment variables for a gateway in another process."""
    return {k: str(v) for k, v in settings.items() if v is not None}


def _upstream_response(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.raw = io.BytesIO(body)
    response.headers["Content-Type"] = "application/json"
    response.headers["Content-Length"] = str(len(body))
    return response


def _relaying(
    app: Flask,
    make: Callable[[int], Any],
    kind: str | None,
    calls: int,
    counter: Iterator[int],
) -> Callable[[], float]:
    """A contender: mean seconds to relay ``calls`` bodies (made beforehand)."""

    def run() -> float:
        bodies = [json.dumps(make(next(counter))).encode() for _ in range(calls)]
        with app.test_request_context():
            g._indox_media_user = "bench-user"
            start = time.perf_counter()
            for body in bodies:
                relay(_upstream_response(body), kind).get_data()
            return (time.perf_counter() - start) / calls

    return run


_CASES: dict[str, tuple[str, Callable[[int], Any], float | None]] = {
    "no audio (voice list)": (
        "voice",
        lambda i: {"items": [{"uuid": f"v{j}", "name": "x"} for j in range(20)]},
        None,
    ),
    "1 asset (clip), first view": (
        "clip",
        lambda i: {
            "success": True,
            "item": {"uuid": f"c{i}", "audio_src": _AUDIO.format(i)},
        },
        None,
    ),
    "1 asset (clip), seen before": (
        "clip",
        lambda i: {
            "success": True,
            "item": {"uuid": "c", "audio_src": _AUDIO.format(0)},
        },
        None,
    ),
    "100-asset list, first view": (
        "clip",
        lambda i: {
            "items": [
                {"uuid": f"l{i}-{j}", "audio_src": _AUDIO.format(f"{i}-{j}")}
                for j in range(100)
            ]
        },
        10.0,
    ),
    "100-asset list, seen before": (
        "clip",
        lambda i: {
            "items": [
                {"uuid": f"l-{j}", "audio_src": _AUDIO.format(j)} for j in range(100)
            ]
        },
        5.0,
    ),
}


def hook_latency(lines: list[str]) -> None:
    runs = 5
    rows = []
    with moto_server() as endpoint, redis_server() as redis_url:
        app = create_app(
            config(
                endpoint,
                bucket(endpoint, "bench-hook"),
                redis_url,
                "http://127.0.0.1:9",
            )
        )
        counter = itertools.count()
        for name, (kind, make, goal) in _CASES.items():
            calls = pick(200, 40) if "100" not in name else pick(40, 10)
            got = interleave(
                runs,
                plain=_relaying(app, make, None, calls, counter),
                ours=_relaying(app, make, kind, calls, counter),
            )
            rows.append(
                judged(
                    name,
                    scaled(got["ours"], 1e3),
                    scaled(got["plain"], 1e3),
                    "ms",
                    "delta",
                    at_most=goal,
                )
            )
    lines += [
        "## Response hook latency, in-process (added over a plain pass-through)",
        "",
        "The same upstream JSON relayed by the gateway with the hook (detect, fix keys",
        "in Redis in one pipelined round trip, enqueue the RQ jobs of the assets seen",
        "for the first time in one more, or read the jobs' states of those seen before",
        "and still pending, presign, rewrite) and without it (kind `None`: bytes passed",
        "through). A body naming no audio field is not parsed. Real Redis; R2 on moto",
        "(presigning makes no request).",
        "Per response, the mean over a batch (first view: new ids in every batch).",
        runs_note(runs),
        "",
    ]
    table(lines, rows)


def _get_many(url: str, n: int) -> Callable[[], float]:
    session = requests.Session()

    def run() -> float:
        start = time.perf_counter()
        for _ in range(n):
            answer = session.get(url, headers=AUTH, timeout=30)
            assert answer.status_code == 200, answer.text
        return (time.perf_counter() - start) / n

    return run


def _in_process(app: Flask, path: str, n: int) -> Callable[[], float]:
    client = app.test_client()

    def run() -> float:
        start = time.perf_counter()
        for _ in range(n):
            assert client.get(path, headers=AUTH).status_code == 200
        return (time.perf_counter() - start) / n

    return run


def server_overhead(lines: list[str]) -> None:
    """No-audio JSON through gunicorn: the gateway against a bare proxy."""
    runs, n = 5, pick(300, 60)
    path = "/api/v1/resemble/tts/voices"
    with (
        moto_server() as endpoint,
        redis_server() as redis_url,
        gunicorn("benchmarks.apps:upstream()", threads=8) as (up, _),
    ):
        settings = config(endpoint, bucket(endpoint, "bench-server"), redis_url, up)
        served = as_env(settings)
        with (
            gunicorn("benchmarks.apps:gateway()", threads=4, env=served) as (gw, _),
            gunicorn(
                "benchmarks.apps:passthrough()", threads=4, env={"BENCH_UPSTREAM": up}
            ) as (bare, _),
        ):
            through = interleave(
                runs, plain=_get_many(bare + path, n), ours=_get_many(gw + path, n)
            )
        os.environ["BENCH_UPSTREAM"] = up
        local = interleave(
            runs,
            plain=_in_process(apps.passthrough(), path, n),
            ours=_in_process(create_app(settings), path, n),
        )
    lines += [
        "## No-audio JSON through a real WSGI server",
        "",
        "`GET /tts/voices` (20 voices, no audio) through the gateway against a bare",
        "Flask proxy that forwards the request with `requests` and returns the bytes",
        "(`benchmarks/apps.py`, `passthrough`). Both under gunicorn (1 `gthread` worker,",
        "4 threads), the fake Resemble under gunicorn in a third process; one client,",
        f"keep-alive, {n} requests per run, time per request. The in-process figure (Flask",
        "test client, same upstream over HTTP) is for reference.",
        runs_note(runs),
        "",
    ]
    table(
        lines,
        [
            judged(
                "through gunicorn",
                scaled(through["ours"], 1e3),
                scaled(through["plain"], 1e3),
                "ms",
                "ratio",
                at_most=1.05,
            ),
            judged(
                "in-process (test client)",
                scaled(local["ours"], 1e3),
                scaled(local["plain"], 1e3),
                "ms",
                "ratio",
            ),
        ],
    )


def enqueue_to_visible(lines: list[str]) -> None:
    fake = FakeResemble()
    runs, n = 5, pick(10, 4)
    with (
        moto_server() as endpoint,
        redis_server() as redis_url,
        serve_wsgi(fake.app) as up,
    ):
        settings = config(endpoint, bucket(endpoint, "bench-latency"), redis_url, up)
        env = python_env(FLASK_APP="benchmarks.apps:gateway()", **as_env(settings))
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "indox-media", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            app = create_app(settings)
            state = app.extensions["indox_media"]
            client = app.test_client()
            counter = itertools.count()

            def p50() -> float:
                delays = []
                for _ in range(n):
                    item = client.post(
                        "/api/v1/resemble/projects/p/clips",
                        json={"voice_uuid": "v", "body": f"clip {next(counter)}"},
                        headers=AUTH,
                    ).get_json()["item"]
                    answered = time.perf_counter()
                    key = state.catalog.primary.key_from_url(item["audio_url"])
                    assert key is not None
                    while not state.catalog.primary.exists(key):
                        time.sleep(0.002)
                    delays.append(time.perf_counter() - answered)
                return percentile(delays, 50) * 1e3

            p50()  # the worker has started
            got = interleave(runs, ours=p50)
        finally:
            worker.terminate()
            worker.wait(10)
    lines += [
        "## From the response to the mirrored object (one real worker)",
        "",
        "Clips created one after another through the gateway; after each response the",
        "client polls HEAD until the object exists. The worker is `flask indox-media",
        "worker` in its own process (RQ forks a work horse per job). Each run's p50 of",
        f"{n} clips. Until the object exists `audio_url` answers 404 and clients use",
        "`resemble_url`.",
        "",
    ]
    table(lines, [judged("response to object, p50", got["ours"], None, "ms", "value")])


def inline_decision(lines: list[str]) -> None:
    audio = wav_bytes(30.0)  # 30 s of 16 kHz PCM: ~0.9 MiB, ~1.3 MiB of base64
    encoded = base64.b64encode(audio).decode()
    body = json.dumps({"audio_content": encoded}).encode()
    runs, n = 5, pick(20, 5)
    with moto_server() as endpoint, redis_server() as redis_url:
        app = create_app(
            config(
                endpoint,
                bucket(endpoint, "bench-inline"),
                redis_url,
                "http://127.0.0.1:9",
            )
        )
        queue = app.extensions["indox_media"].queue.rq
        ids = itertools.count()
        with app.test_request_context():
            g._indox_media_user = "bench-user"
            got = interleave(
                runs,
                enqueue=per_call(
                    lambda: queue.enqueue(
                        len, encoded, job_id=f"bench-inline-{next(ids)}"
                    ),
                    n,
                ),
                ours=per_call(
                    lambda: relay(_upstream_response(body), "tts").get_data(), n
                ),
            )
    lines += [
        "## Inline base64 audio: stored in the request, or in a job?",
        "",
        f"A {len(audio) / MiB:.1f} MiB synthesis ({len(encoded) / MiB:.1f} MiB of base64): the",
        "whole hook, decoding and uploading it in the request (ours), against only",
        "enqueueing the same base64 into Redis (baseline), before a worker has read it",
        "back, decoded it and uploaded it anyway.",
        runs_note(runs),
        "",
    ]
    table(
        lines,
        [
            judged(
                "inline audio, per response",
                scaled(got["ours"], 1e3),
                scaled(got["enqueue"], 1e3),
                "ms",
                "ratio",
            )
        ],
    )
    lines += [
        "Decision: inline audio is uploaded in the request. The bytes are already in the",
        "gateway's memory, the upload to a nearby bucket costs a few times what a round",
        "trip through Redis would, the object exists when the response is sent (no",
        "pending window, no `resemble_url` to fall back on, since there is none), and",
        "Redis, which holds its data in memory, never carries audio.",
        "",
    ]
