"""The promise under a storage outage: the bucket (moto server) behind a TCP
proxy taken down for 30 s while a mirror is due; a real worker process retries;
the object lands, once, with its bytes, well within 2 minutes after the proxy
is back."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from flask import Flask

from flask_indox_media.testing import tcp_proxy
from tests import gateway_app
from tests.conftest import create_clip, r2_config
from tests.test_worker import kill_tree, wait_for

ROOT = Path(__file__).resolve().parents[1]
OUTAGE = 30


def test_a_mirror_due_during_a_storage_outage_lands_after_it(
    make_gateway: Callable[..., Flask],
    redis_db: str,
    moto_endpoint: str,
    fake: Any,
    tmp_path: Path,
) -> None:
    target = urlsplit(moto_endpoint)
    with tcp_proxy((target.hostname or "", target.port or 80)) as proxy:
        config: dict[str, Any] = {
            **r2_config(moto_endpoint),
            "INDOX_MEDIA_R2_ENDPOINT_URL": proxy.url,
            "INDOX_MEDIA_REDIS_URL": redis_db,
        }
        app = make_gateway(config)
        bucket = config["INDOX_MEDIA_R2_BUCKET"]
        direct = boto3.client(
            "s3",
            endpoint_url=moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        proxy.down()
        item = create_clip(app.test_client())  # the mirror is queued, due now
        key = urlsplit(item["audio_url"]).path.split(f"/{bucket}/", 1)[1]
        source = app.config["INDOX_MEDIA_SOURCE_HOSTS"]
        env = gateway_app.environment({**config, "INDOX_MEDIA_SOURCE_HOSTS": source})
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "indox-media", "worker"],
                cwd=ROOT,
                env={**env, "SECRET_KEY": "test-secret"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(OUTAGE)  # the fault: every attempt meanwhile fails
            assert direct.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
            proxy.up()
            took = wait_for(
                lambda: direct.list_objects_v2(Bucket=bucket).get("KeyCount", 0) > 0,
                120,
            )
        finally:
            kill_tree(worker)
    print(f"stored {took:.1f} s after the outage ended")
    listed = direct.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [key]  # exactly once
    body = direct.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == fake.files[urlsplit(item["resemble_url"]).path.rsplit("/", 1)[1]][0]
