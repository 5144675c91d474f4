"""Requests per mirrored asset and Redis round trips per response: counts, not
timings, so one run says it all."""

from __future__ import annotations

import json
from collections import Counter

from example_app import create_app
from flask_indox_media.mirror import download
from flask_indox_media.mirror.rewrite import rewrite
from flask_indox_media.testing import redis_server, serve_wsgi
from flask_indox_media.testing.counting import redis_round_trips, s3_requests

from .common import MiB, bucket, judged, moto_server, table
from .gateway import config
from .mirror import BigFile

_AUDIO = "https://app.resemble.ai/rails/active_storage/blobs/{}/clip.wav"


#: Billed as Class A (writes, listings) and Class B (reads) on R2 and S3.
CLASS_A = {
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "ListObjectsV2",
    "CopyObject",
}
CLASS_B = {"GetObject", "HeadObject"}


def _show(counts: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "none"


def s3_per_asset(lines: list[str]) -> None:
    with (
        moto_server() as endpoint,
        redis_server() as redis_url,
        serve_wsgi(BigFile(100_000)) as source,
    ):
        app = create_app(
            config(endpoint, bucket(endpoint, "bench-counts"), redis_url, source)
        )
        state = app.extensions["indox_media"]
        client = state.catalog.primary.client
        rows, seen = [], []
        with app.test_request_context():
            for name, size, goal_a in (
                ("100 kB", 100_000, 1),
                ("20 MiB", 20 * MiB, None),
            ):
                url = f"{source}/{size}.wav"
                body = json.dumps({"item": {"uuid": name, "audio_src": url}}).encode()
                with s3_requests(client) as first:
                    answer = json.loads(rewrite(state, body, "clip", "u"))
                    key = state.catalog.primary.key_from_url(
                        answer["item"]["audio_url"]
                    )
                    download.mirror_url(state, "r2", key, url)
                with s3_requests(client) as again:
                    rewrite(state, body, "clip", "u")
                seen.append(
                    f"{name}: first sight {_show(first)}; repeat poll {_show(again)}"
                )
                a = sum(n for op, n in first.items() if op in CLASS_A)
                b = sum(n for op, n in first.items() if op in CLASS_B)
                rows += [
                    judged(
                        f"{name}, first sight, Class A",
                        [a],
                        None,
                        "requests",
                        "value",
                        at_most=goal_a,
                    ),
                    judged(
                        f"{name}, first sight, Class B",
                        [b],
                        None,
                        "requests",
                        "value",
                        at_most=0,
                    ),
                    judged(
                        f"{name}, repeat poll, all",
                        [sum(again.values())],
                        None,
                        "requests",
                        "value",
                        at_most=0,
                    ),
                ]
    lines += [
        "## S3 requests per mirrored asset",
        "",
        "One clip answer through the response hook, then its mirror job (`mirror_url`),",
        "then the same answer again (a repeat poll); requests counted by operation",
        "(botocore's `before-send`) on moto. The write is conditional",
        "(`If-None-Match: *`), so no HEAD comes first; under the multipart threshold",
        "(16 MiB) it is one PutObject; above, 8 MiB parts (no goal: Create + parts +",
        "Complete). Presigning makes no request; a repeat poll finds the claim and",
        "enqueues nothing. Counts, not timings: one run says it all.",
        "",
    ]
    table(lines, rows)
    lines += ["By operation: " + "; ".join(seen) + ".", ""]


def redis_per_response(lines: list[str]) -> None:
    with moto_server() as endpoint, redis_server() as redis_url:
        app = create_app(
            config(
                endpoint,
                bucket(endpoint, "bench-trips"),
                redis_url,
                "http://127.0.0.1:9",
            )
        )
        state = app.extensions["indox_media"]
        rows = []
        with app.test_request_context():
            # Connects, and loads the scripts (once per Redis server: each
            # costs one SCRIPT LOAD, and the failed call before it, once).
            for _ in range(2):
                rewrite(state, _clips("warm", 1), "clip", "u")
            for n in (1, 10, 100):
                body = _clips(f"n{n}-", n)
                trips = []
                for _ in range(2):
                    with redis_round_trips() as count:
                        rewrite(state, body, "clip", "u")
                    trips.append(count[0])
                rows += [
                    judged(
                        f"{n} assets, first view",
                        [trips[0]],
                        None,
                        "round trips",
                        "value",
                        at_most=2,
                    ),
                    judged(
                        f"{n} assets, seen before",
                        [trips[1]],
                        None,
                        "round trips",
                        "value",
                        at_most=2,
                    ),
                ]
    lines += [
        "## Redis round trips per response (response hook)",
        "",
        "Claims in one script call (`SET NX` each, `GET` where taken: an asset seen",
        "before comes back with the key it got), the new assets' jobs in one more",
        "(written from a template of RQ's job hash, in one script); assets seen before",
        "and not yet mirrored have their jobs' states read in one more. No worker",
        "runs here, so seen assets are",
        "pending. Counted as the connections' `send_packed_command` calls.",
        "",
    ]
    table(lines, rows)


def _clips(prefix: str, n: int) -> bytes:
    items = [
        {"uuid": f"{prefix}{j}", "audio_src": _AUDIO.format(f"{prefix}{j}")}
        for j in range(n)
    ]
    return json.dumps({"items": items}).encode()
