"""WSGI apps the benchmarks serve from other processes (gunicorn,
``flask run``): the fake Resemble upstream, the gateway, and the plain
pass-through proxy the gateway is compared with. Configured by environment."""

from __future__ import annotations

import os
import threading

import requests
from flask import Flask, Response, request

from example_app import create_app
from flask_indox_media.testing import FakeResemble, wav_bytes
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY

#: Tiny WAV assets the upstream serves at ``/files/a<i>.wav`` (``BENCH_FILES``).
TINY = wav_bytes(0.1)


def upstream() -> Flask:
    """The fake Resemble: ``BENCH_LATENCY`` and ``BENCH_FILE_LATENCY``
    seconds, ``BENCH_FILES`` tiny files. Its state lives in one process, so
    serve it with one worker and many threads."""
    fake = FakeResemble(
        latency=float(os.environ.get("BENCH_LATENCY", "0")),
        file_latency=float(os.environ.get("BENCH_FILE_LATENCY", "0")),
    )
    for i in range(int(os.environ.get("BENCH_FILES", "0"))):
        fake.files[f"a{i}.wav"] = (TINY, "audio/wav")
    return fake.app


def gateway() -> Flask:
    """The example gateway, configured by ``INDOX_MEDIA_*`` variables."""
    return create_app()


def passthrough() -> Flask:
    """The baseline: forward ``GET /api/v1/resemble/tts/voices`` to the
    upstream and return its bytes, nothing else (``BENCH_UPSTREAM``)."""
    app = Flask(__name__)
    base = os.environ["BENCH_UPSTREAM"].rstrip("/") + "/api/v2/"
    local = threading.local()

    @app.get("/api/v1/resemble/tts/voices")
    def voices() -> Response:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        answer = session.get(
            base + "voices",
            params=request.args,
            headers={"Authorization": f"Token token={DEFAULT_KEY}"},
            timeout=30,
        )
        return Response(
            answer.content,
            status=answer.status_code,
            content_type=answer.headers.get("Content-Type"),
        )

    return app
