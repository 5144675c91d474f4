"""Issue 9's bounded load test: mixed requests through gunicorn and through
werkzeug's threaded server (``flask run``); no errors, every ``audio_url``
there. Figures are recorded, not judged, and CI does not time it."""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import requests

from flask_indox_media.testing import redis_server, wav_bytes

from .common import (
    ROOT,
    bucket,
    flask_run,
    gunicorn,
    moto_server,
    percentile,
    pick,
    python_env,
)
from .gateway import AUTH, as_env, config

CLIENTS = 8
_UPLOAD = wav_bytes(0.5)


def _has_audio(body: Any) -> bool:
    if isinstance(body, list):
        return bool(body) and all(_has_audio(item) for item in body)
    if "item" in body:
        return _has_audio(body["item"])
    return bool(body.get("audio_url"))


def _requests(
    api: str, clips: list[str], jobs: list[str]
) -> list[Callable[[requests.Session], Any]]:
    """One of each kind of request, in the mix's proportions (of 10)."""

    def tts(s: requests.Session) -> Any:
        return s.post(
            f"{api}/tts/synthesize", json={"voice_uuid": "voice-1", "text": "Hello."}
        )

    def clip_create(s: requests.Session) -> Any:
        return s.post(
            f"{api}/projects/p/clips",
            json={"fields": {"voice_uuid": "voice-1", "body": "Hi."}},
        )

    counter = itertools.count()

    def clip_get(s: requests.Session) -> Any:
        return s.get(f"{api}/projects/p/clips/{clips[next(counter) % len(clips)]}")

    def enhance_poll(s: requests.Session) -> Any:
        return s.get(f"{api}/enhance/{jobs[next(counter) % len(jobs)]}")

    def media(s: requests.Session) -> Any:
        return s.get(f"{api}/media", params={"page_size": 10})

    def upload(s: requests.Session) -> Any:
        return s.post(f"{api}/uploads", files={"file": ("a.wav", _UPLOAD, "audio/wav")})

    return [
        tts,
        tts,
        clip_create,
        clip_create,
        clip_get,
        clip_get,
        enhance_poll,
        enhance_poll,
        media,
        upload,
    ]


def _run(base: str, up: str, total: int) -> dict[str, float]:
    api = base + "/api/v1/resemble"
    setup = requests.Session()
    setup.headers.update(AUTH)
    clips = [
        setup.post(
            f"{api}/projects/p/clips",
            json={"fields": {"voice_uuid": "voice-1", "body": "x"}},
        ).json()["item"]["uuid"]
        for _ in range(5)
    ]
    audio = setup.post(
        f"{api}/projects/p/clips",
        json={"fields": {"voice_uuid": "voice-1", "body": "y"}},
    ).json()["item"]["audio_src"]
    jobs = [
        setup.post(f"{api}/enhance", json={"audio_url": audio}).json()["uuid"]
        for _ in range(3)
    ]
    for job in jobs:
        setup.get(f"{api}/enhance/{job}")  # done after one poll
    mix = _requests(api, clips, jobs)
    errors: list[str] = []
    latencies: list[float] = []

    def one(i: int, session: requests.Session) -> None:
        start = time.perf_counter()
        try:
            answer = mix[i % len(mix)](session)
            took = time.perf_counter() - start
            if answer.status_code >= 400:
                errors.append(f"{mix[i % len(mix)].__name__}: {answer.status_code}")
            elif not _has_audio(answer.json()):
                errors.append(f"{mix[i % len(mix)].__name__}: no audio_url")
            latencies.append(took)
        except requests.RequestException as exc:
            errors.append(f"{mix[i % len(mix)].__name__}: {type(exc).__name__}")

    sessions = [requests.Session() for _ in range(CLIENTS)]
    for s in sessions:
        s.headers.update(AUTH)
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda i: one(i, sessions[i % CLIENTS]), range(total)))
    wall = time.perf_counter() - start
    return {
        "rps": total / wall,
        "p50": statistics.median(latencies) * 1e3,
        "p99": percentile(latencies, 99) * 1e3,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",  # type: ignore[dict-item]
    }


@contextmanager
def _worker(settings: dict[str, Any]) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "indox-media", "worker"],
        env=python_env(FLASK_APP="benchmarks.apps:gateway()", **as_env(settings)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def load_test(lines: list[str]) -> None:
    totals = {"gunicorn": pick(2000, 100), "werkzeug": pick(2000, 50)}
    results = {}
    with (
        moto_server() as endpoint,
        redis_server() as redis_url,
        gunicorn("benchmarks.apps:upstream()", threads=32) as (up, _),
    ):
        for name in ("gunicorn", "werkzeug"):
            settings = config(
                endpoint, bucket(endpoint, f"bench-load-{name}"), redis_url, up
            )
            served = as_env(settings)
            with _worker(settings):
                if name == "gunicorn":
                    with gunicorn(
                        "benchmarks.apps:gateway()", workers=2, threads=4, env=served
                    ) as (gw, _):
                        results[name] = _run(gw, up, totals[name])
                else:
                    with flask_run("benchmarks.apps:gateway()", env=served) as gw:
                        results[name] = _run(gw, up, totals[name])
    lines += [
        "## Load test (issue 9): mixed requests, bounded",
        "",
        f"{totals['gunicorn']:,} requests (gunicorn), {totals['werkzeug']:,} (werkzeug) from {CLIENTS} client threads (keep-alive sessions): TTS",
        "synthesize 20%, clip create 20%, clip get 20%, enhancement polls 20%, media",
        "list 10%, uploads (0.5 s WAV) 10%. Every answer must be a success carrying",
        "`audio_url` (each item's, for lists). Real Redis with one worker running, R2",
        "on moto, the fake upstream under gunicorn. gunicorn: 2 `gthread` workers of",
        "4 threads; werkzeug: `flask run` (threaded). One run each: figures for the",
        "record, not timed in CI.",
        "",
        "| server | requests/s | p50 | p99 | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, got in results.items():
        lines.append(
            f"| {name} | {got['rps']:.0f} | {got['p50']:.0f} ms | {got['p99']:.0f} ms | "
            f"**{got['errors']:.0f}** |"
        )
    firsts = [f"{n}: {g['first_error']}" for n, g in results.items() if g["errors"]]
    lines += ["", *(["First error: " + "; ".join(firsts) + ".", ""] if firsts else [])]
