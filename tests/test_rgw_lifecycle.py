"""Lifecycle rules really delete: ``flask indox-media lifecycle apply`` on a
real S3 server (Ceph's RADOS Gateway) whose lifecycle "day" lasts
:data:`DAY` seconds (``rgw lc debug interval``), so one class with a one-day
retention expires during the test while permanent classes, a longer-lived
class and another team's rule keep their objects."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_indox_media.assets import Asset
from flask_indox_media.testing import RGW, rgw_available, rgw_server, wav_bytes
from tests.conftest import rgw_config

pytestmark = pytest.mark.realworld

#: Seconds in one lifecycle "day" on the test's server.
DAY = 10
#: How long the test waits for the one-day class to go (RGW took 12-22 s).
DEADLINE = 120
PAGE = "https://app.example.com"
#: Another team's rule, which ``apply`` must keep.
FOREIGN_RULE = {
    "ID": "team-archive",
    "Filter": {"Prefix": "archive/"},
    "Status": "Enabled",
    "Expiration": {"Days": 365},
}


@pytest.fixture(scope="module")
def lc_rgw() -> Iterator[RGW]:
    """A server of this module's own: the lifecycle interval is per server."""
    if not rgw_available():
        pytest.fail("Ceph's radosgw is not installed: run ./scripts/test")
    with rgw_server(lc_debug_interval=DAY) as server:
        yield server


@pytest.fixture
def app(lc_rgw: RGW, tmp_path: Path) -> Flask:
    from example_app import create_app

    # The real clock: the server deletes by its own clock, from the upload.
    return create_app(
        {
            **rgw_config(lc_rgw, "r2"),
            "INDOX_MEDIA_RETENTION": {"tts": 1},
            "INDOX_MEDIA_LOCAL_ROOT": str(tmp_path),
        }
    )


def store(app: Flask, asset_class: str) -> Asset:
    with app.app_context():
        catalog = app.extensions["indox_media"].catalog
        asset, _ = catalog.store(
            asset_class,
            "alice",
            io.BytesIO(wav_bytes(0.1)),
            content_type="audio/wav",
            extension="wav",
        )
    assert isinstance(asset, Asset)
    return asset


def test_expired_classes_are_deleted_and_the_rest_kept(app: Flask, lc_rgw: RGW) -> None:
    backend = app.extensions["indox_media"].catalog.primary
    s3 = lc_rgw.client()
    bucket = app.config["INDOX_MEDIA_R2_BUCKET"]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [FOREIGN_RULE]}
    )
    result = app.test_cli_runner().invoke(args=["indox-media", "lifecycle", "apply"])
    assert result.exit_code == 0, result.output
    assert "r2: keep team-archive (not ours)" in result.output
    rules = {
        r["ID"]: r
        for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    }
    assert rules["team-archive"]["Expiration"] == {"Days": 365}
    assert rules["indox-media-tts"]["Expiration"] == {"Days": 1}
    assert rules["indox-media-uploads"]["Expiration"] == {"Days": 30}

    tts = store(app, "tts")
    kept = [store(app, c).key for c in ("voices", "voice_recordings", "uploads")]
    s3.put_object(Bucket=bucket, Key="archive/report.wav", Body=b"RIFF")
    kept.append("archive/report.wav")

    # The asset's advertised expiry is its key's time plus the rule's Days.
    assert tts.expires_at is not None
    days = rules["indox-media-tts"]["Expiration"]["Days"]
    assert tts.expires_at == tts.created_at + timedelta(days=days)
    # The same expiry in this server's compressed days: the key's time is in
    # whole seconds, so it is never after the upload.
    scaled_expiry = tts.created_at + timedelta(seconds=days * DAY)

    gone_at = wait_until_gone(backend, tts.key, scaled_expiry)
    lag = (gone_at - scaled_expiry).total_seconds()
    print(f"\ntts object gone {lag:.1f} s ({lag / DAY:.1f} days) after expires_at")
    for key in kept:
        assert backend.exists(key), key


def wait_until_gone(backend: Any, key: str, not_before: datetime) -> datetime:
    """Poll until ``key`` is gone (the sanctioned wait: the server's own
    lifecycle thread deletes); fail if it goes before ``not_before``."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        present = backend.exists(key)
        now = datetime.now(UTC)
        if not present:
            assert now >= not_before, f"{key} deleted before its expires_at"
            return now
        time.sleep(0.5)
    pytest.fail(f"{key} was not deleted within {DEADLINE} s")


def test_plans_are_in_sync_after_apply(
    rgw: RGW, make_app: Callable[..., Flask]
) -> None:
    """RGW gives the bucket-wide rule back as ``"Prefix": ""`` instead of the
    ``Filter`` it was written with; the plan must still see it in sync."""
    app = make_app({**rgw_config(rgw, "r2"), "INDOX_MEDIA_CORS_ORIGINS": [PAGE]})
    runner = app.test_cli_runner()
    for command in ("lifecycle", "cors"):
        applied = runner.invoke(args=["indox-media", command, "apply"])
        assert applied.exit_code == 0 and "written" in applied.output
        plan = runner.invoke(args=["indox-media", command, "plan"])
        assert plan.exit_code == 0
        source = {
            "lifecycle": "the retention table",
            "cors": "INDOX_MEDIA_CORS_ORIGINS",
        }
        assert f"match {source[command]}" in plan.output, plan.output
    stored = rgw.client().get_bucket_lifecycle_configuration(
        Bucket=app.config["INDOX_MEDIA_R2_BUCKET"]
    )["Rules"]
    [bucket_wide] = [r for r in stored if "AbortIncompleteMultipartUpload" in r]
    assert bucket_wide.get("Prefix") == "" and "Filter" not in bucket_wide
