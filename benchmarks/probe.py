"""One measured run in a fresh process, so its memory is its own:
``python -m benchmarks.probe '<json>'`` prints ``{"seconds", "cpu", "idle",
"peak"}`` (the work's wall and CPU seconds, all threads; bytes: RSS before
the work, peak RSS during it, the peak reset once the process is set up)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
import requests

from example_app import create_app
from flask_indox_media.mirror import download

from .common import reset_peak, status


def _measured(work: Callable[[], object]) -> dict[str, float]:
    idle = status()["VmRSS"]
    reset_peak()
    start, cpu = time.perf_counter(), time.process_time()
    work()
    took = time.perf_counter() - start
    return {
        "seconds": took,
        "cpu": time.process_time() - cpu,
        "idle": idle,
        "peak": status()["VmHWM"],
    }


def _raw_client(spec: dict[str, Any]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=spec["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=spec["access_key"],
        aws_secret_access_key=spec["secret_key"],
    )


def mirror_raw(spec: dict[str, Any]) -> dict[str, float]:
    """The baseline mirror: ``requests`` streamed into ``upload_fileobj``."""
    client = _raw_client(spec)
    client.list_objects_v2(Bucket=spec["bucket"], MaxKeys=1)  # connected, warm

    def work() -> None:
        with requests.get(spec["url"], stream=True, timeout=300) as response:
            client.upload_fileobj(response.raw, spec["bucket"], spec["key"])

    return _measured(work)


def mirror_ours(spec: dict[str, Any]) -> dict[str, float]:
    """``mirror_url``: checked download, sniffed, conditional streamed write."""
    app = create_app(spec["config"])
    state = app.extensions["indox_media"]
    with app.app_context():
        state.catalog.primary.client.list_objects_v2(
            Bucket=spec["config"]["INDOX_MEDIA_R2_BUCKET"], MaxKeys=1
        )
        return _measured(
            lambda: download.mirror_url(state, "r2", spec["key"], spec["url"])
        )


def upload_raw(spec: dict[str, Any]) -> dict[str, float]:
    """The baseline upload: boto3 ``upload_fileobj`` of a file on disk."""
    client = _raw_client(spec)
    client.list_objects_v2(Bucket=spec["bucket"], MaxKeys=1)

    def work() -> None:
        with open(spec["path"], "rb") as fh:
            client.upload_fileobj(fh, spec["bucket"], spec["key"])

    return _measured(work)


def mirror_loop(spec: dict[str, Any]) -> dict[str, float]:
    """``n`` mirrors called one after another in this process (no worker)."""
    app = create_app(spec["config"])
    state = app.extensions["indox_media"]
    n, prefix = spec["n"], spec["prefix"]
    with app.app_context():
        # One mirror first, as a long-lived process has made: client and
        # connections exist before the timed loop.
        download.mirror_url(
            state,
            "r2",
            f"tts/u/2026/01/01/000000-{prefix}warm.wav",
            f"{spec['source']}/files/a{n}.wav",
        )

        def work() -> None:
            for i in range(n):
                download.mirror_url(
                    state,
                    "r2",
                    f"tts/u/2026/01/01/000000-{prefix}{i}.wav",
                    f"{spec['source']}/files/a{i}.wav",
                )

        return _measured(work)


PROBES = {
    "mirror-raw": mirror_raw,
    "mirror-ours": mirror_ours,
    "upload-raw": upload_raw,
    "mirror-loop": mirror_loop,
}

if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    print(json.dumps(PROBES[request["probe"]](request)))
