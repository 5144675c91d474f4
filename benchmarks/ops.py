"""Erasing a user and backfilling a backend, each against a raw boto3 loop
doing the same work, interleaved; and the requests erase sends against their
floor on 100,000 objects."""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from example_app import create_app
from flask_indox_media.ops import backfill as backfill_op
from flask_indox_media.ops.users import erase_user
from flask_indox_media.state import IndoxMediaState

from .common import (
    CREDS,
    bucket,
    interleave,
    judged,
    moto_server,
    pick,
    runs_note,
    seconds,
    table,
)

#: Objects per prefix (8 prefixes) in the request count: 100,000 in all.
COUNTED_PER_CLASS = 12_500


def _count_requests(client: Any) -> Counter[str]:
    counts: Counter[str] = Counter()

    def seen(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("before-call.s3", lambda model, **kw: seen(model))
    return counts


@contextmanager
def _erase_world() -> Iterator[tuple[IndoxMediaState, Callable[[int], int]]]:
    """An app on moto in-process, and ``fill(per_class)``: the victim's
    objects under every prefix, plus 100 of a bystander's, put through moto's
    own API (100,000 PUTs over HTTP would take minutes); returns the
    victim's count."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1", **CREDS).create_bucket(
            Bucket="bench-erase"
        )
        app = create_app(
            {
                "INDOX_MEDIA_STORAGE_BACKEND": "s3",
                "INDOX_MEDIA_S3_BUCKET": "bench-erase",
            }
        )
        state: IndoxMediaState = app.extensions["indox_media"]
        store = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        prefixes = [c.prefix for c in state.settings.classes.values()]

        def fill(per_class: int) -> int:
            for prefix in prefixes:
                for user in ("victim", "bystander"):
                    for i in range(per_class if user == "victim" else 100):
                        key = (
                            f"{prefix}{user}/2026/01/{1 + i % 28:02d}/{i:06d}-r{i}.wav"
                        )
                        store.put_object("bench-erase", key, b"x")
            return per_class * len(prefixes)

        yield state, fill


def _raw_erase(client: Any, prefixes: list[str], user: str) -> None:
    """What a hand-written erase does: list each prefix of the user, delete
    in batches of 1,000."""
    for prefix in prefixes:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket="bench-erase", Prefix=f"{prefix}{user}/"
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if keys:
                client.delete_objects(
                    Bucket="bench-erase", Delete={"Objects": keys, "Quiet": True}
                )


def erase(lines: list[str]) -> None:
    runs = 5
    per_class = pick(1_000, 250)
    with _erase_world() as (state, fill):
        prefixes = [c.prefix for c in state.settings.classes.values()]
        client = state.catalog.primary.client
        total = 0

        def filled(fn: Callable[[], object]) -> Callable[[], float]:
            def run() -> float:
                nonlocal total
                total = fill(per_class)
                return seconds(fn)()

            return run

        timed = interleave(
            runs,
            ours=filled(lambda: erase_user(state, "victim")),
            raw=filled(lambda: _raw_erase(client, prefixes, "victim")),
        )
        # The request count, on 100,000 objects: one run, counts do not vary.
        counted = fill(COUNTED_PER_CLASS)
        requests = _count_requests(client)
        result = erase_user(state, "victim")
        requests = Counter(requests)  # what the erase sent, before our own check
        bystander = sum(1 for _ in state.catalog.primary.list_objects(""))
    pages = len(prefixes) * math.ceil(COUNTED_PER_CLASS / 1000)
    lines += [
        f"## Erasing a user: {total:,} objects over all {len(prefixes)} prefixes, timed; 100,000 counted",
        "",
        "moto in-process (filled through its own API, not timed), so the time is this",
        "code's and moto's, not a network's. Ours: `erase-user` (it also cancels the",
        "user's jobs and forgets their claims, then lists every prefix once more to",
        "verify). Baseline: a raw boto3 loop, listing each prefix of the user and",
        "deleting in batches of 1,000.",
        runs_note(runs),
        "",
    ]
    table(
        lines,
        [
            judged(
                f"{total:,} objects, time",
                timed["ours"],
                timed["raw"],
                "s",
                "ratio",
                at_most=1.10,
            ),
        ],
    )
    lines += [
        "Requests on 100,000 objects (12,500 per prefix; counts, not timings: one",
        "run says it all):",
        "",
        "| | DeleteObjects | ListObjectsV2 |",
        "|---|---:|---:|",
        f"| lower bound | {math.ceil(counted / 1000)} (one per 1,000 keys) | {pages} (the listing pages) |",
        f"| `erase-user` | {requests['DeleteObjects']} | {requests['ListObjectsV2']} "
        f"({requests['ListObjectsV2'] - pages} beyond the floor: the verification, one per prefix) |",
        "",
        f"{sum(result.deleted.values()):,} deleted, {len(result.remaining)} left; the other",
        f"user's {bystander} objects untouched.",
        "",
    ]


def _raw_backfill(raw: Any, source: str, target: str) -> None:
    for page in raw.get_paginator("list_objects_v2").paginate(Bucket=source):
        for item in page.get("Contents", ()):
            got = raw.get_object(Bucket=source, Key=item["Key"])
            raw.put_object(
                Bucket=target,
                Key=item["Key"],
                Body=io.BytesIO(got["Body"].read()),
                ContentType=got["ContentType"],
                Metadata=got["Metadata"],
            )


def backfill(lines: list[str]) -> None:
    runs = 5
    n, size = pick(200, 40), 64 * 1024
    with moto_server() as endpoint:
        raw = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", **CREDS
        )
        source = bucket(endpoint, "bench-backfill-s3")
        data = bytes(range(256)) * (size // 256)
        for i in range(n):
            raw.put_object(
                Bucket=source,
                Key=f"tts/u/2026/01/01/{i:06d}-r{i}.wav",
                Body=data,
                ContentType="audio/wav",
                Metadata={"user-id": "u"},
            )
        made = Counter[str]()

        def target(kind: str) -> str:
            """A new, empty target bucket for each run."""
            made[kind] += 1
            return bucket(endpoint, f"bench-backfill-{kind}-{made[kind]}")

        def state_for(r2_bucket: str) -> IndoxMediaState:
            state: IndoxMediaState = create_app(
                {
                    "INDOX_MEDIA_STORAGE_BACKEND": "r2",
                    "INDOX_MEDIA_R2_ENDPOINT_URL": endpoint,
                    "INDOX_MEDIA_R2_BUCKET": r2_bucket,
                    "INDOX_MEDIA_R2_ACCESS_KEY_ID": "bench",
                    "INDOX_MEDIA_R2_SECRET_ACCESS_KEY": "bench",
                    "INDOX_MEDIA_S3_BUCKET": source,
                    "INDOX_MEDIA_S3_ENDPOINT_URL": endpoint,
                    "INDOX_MEDIA_S3_ACCESS_KEY_ID": "bench",
                    "INDOX_MEDIA_S3_SECRET_ACCESS_KEY": "bench",
                }
            ).extensions["indox_media"]
            for backend in state.catalog.backends.values():
                backend.warm()  # the raw loop's client is made before it is timed too
            return state

        outcomes: list[Counter[str]] = []

        def ours() -> float:
            state = state_for(target("ours"))
            start = seconds(
                lambda: outcomes.append(backfill_op.backfill(state, "s3", "r2"))
            )()
            rerun = seconds(
                lambda: outcomes.append(backfill_op.backfill(state, "s3", "r2"))
            )()
            again.append(rerun)
            return start

        def baseline() -> float:
            into = target("raw")
            return seconds(lambda: _raw_backfill(raw, source, into))()

        again: list[float] = []
        timed = interleave(runs, ours=ours, raw=baseline)
    copied = {c["copied"] for c in outcomes[0::2]}
    skipped = {c["skipped"] for c in outcomes[1::2]}
    lines += [
        f"## Backfill of {n:,} objects of {size // 1024} KiB from S3 to R2 (moto server, loopback HTTP)",
        "",
        "Ours: `backfill --from s3 --to r2` into an empty bucket, then the same again",
        "(all present). Baseline: a raw boto3 loop (list, get, put) into an empty",
        "bucket. Ours streams each body (constant memory; an object under the",
        "multipart threshold goes as one PutObject), reading its type and metadata",
        "from the same GetObject; a re-run walks both listings side by side, with no",
        "request per object.",
        runs_note(runs),
        "",
    ]
    table(
        lines,
        [
            judged(
                "copy, time", timed["ours"], timed["raw"], "s", "ratio", at_most=1.10
            ),
            judged("re-run, all present, time", again, timed["raw"], "s", "ratio"),
        ],
    )
    lines += [
        f"Copied per run: {sorted(copied)}; skipped on the re-run: {sorted(skipped)}"
        f" (of {n:,}).",
        "",
    ]
