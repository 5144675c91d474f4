"""The Procfile, run as a platform runs it: honcho starts the gateway
(gunicorn) and a worker (the default IndoxWorker), configured by the
environment alone, in front of the fake upstream and the suite's Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flask_indox_media.testing import free_port
from flask_indox_media.testing.fake_resemble import DEFAULT_KEY

ROOT = Path(__file__).resolve().parents[1]
MARKER = "DEPLOY_TEST_MARKER"


def marked(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker``: honcho and every
    process it started, their children (gunicorn's workers, rq's scheduler,
    and a forking worker's horses) included."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def until(check: Callable[[], Any], seconds: float, what: Callable[[], str]) -> Any:
    """Poll ``check`` until it gives something true, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = check()
        except (requests.ConnectionError, requests.Timeout):
            # Not up yet, or busy with its first request on a loaded machine.
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what()}")


@pytest.fixture
def procfile_env(upstream: str, redis_db: str, tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INDOX_MEDIA_", "PROMETHEUS_", "FLASK_"))
        and k not in {"STORAGE_BACKEND", "API_KEYS", "SECRET_KEY", "PORT"}
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        SECRET_KEY="procfile-test-secret",
        API_KEYS="key-a:alice",
        INDOX_MEDIA_REDIS_URL=redis_db,
        INDOX_MEDIA_LOCAL_ROOT=str(tmp_path / "media"),
        INDOX_MEDIA_RESEMBLE_API_KEY=DEFAULT_KEY,
        INDOX_MEDIA_RESEMBLE_BASE_URL=upstream + "/api/",
        INDOX_MEDIA_RESEMBLE_SYNTH_URL=upstream + "/",
        INDOX_MEDIA_SOURCE_HOSTS="127.0.0.1:" + upstream.rsplit(":", 1)[1],
    )
    env[MARKER] = uuid.uuid4().hex
    return env


@pytest.fixture
def honcho(procfile_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``honcho start`` of the repository's Procfile; yields the web URL. On
    exit, SIGTERM to honcho (as a platform stops a release), then a check that
    nothing it started is left."""
    port = free_port()
    log = tmp_path / "honcho.log"
    marker = procfile_env[MARKER]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "honcho",
                "start",
                "-f",
                "Procfile",
                "-p",
                str(port),
            ],
            cwd=ROOT,
            env=procfile_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        # Any answer will do (``/`` is a 404): gunicorn is up.
        until(
            lambda: requests.get(url + "/", timeout=10) is not None,
            60,
            lambda: "gunicorn to listen\n" + log.read_text(),
        )
        # honcho, gunicorn and its worker, the rq worker (and its scheduler):
        # what the check below must find gone.
        assert len(marked(marker)) >= 4, log.read_text()
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            left = marked(marker)
            for pid in left:  # never leave strays, even when the check fails
                os.kill(pid, signal.SIGKILL)
    assert left == [], f"processes left behind: {left}\n{log.read_text()}"


def test_procfile_web_and_worker_mirror_over_http(honcho: str, fake: Any) -> None:
    response = requests.post(
        honcho + "/api/v1/resemble/projects/p/clips",
        json={"voice_uuid": "v", "body": "x"},
        headers={"Authorization": "Bearer key-a"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    item = response.json()["item"]
    audio_url = item["audio_url"]
    assert audio_url.startswith(honcho)  # presigned by the gateway itself
    # 404 until the worker has mirrored it; then the upstream's bytes.
    mirrored = until(
        lambda: (r := requests.get(audio_url, timeout=5)).status_code == 200 and r,
        60,
        lambda: "the worker to mirror the clip",
    )
    name = item["resemble_url"].rsplit("/", 1)[1]
    assert mirrored.content == fake.files[name][0]
