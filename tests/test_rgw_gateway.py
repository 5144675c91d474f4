"""End to end on real parts: the example app over HTTP, R2 on a real S3 server
(Ceph's RADOS Gateway), a real Redis, and a real ``flask indox-media worker
--burst`` process that mirrors what the gateway queued. What the browser-facing
URLs give is then checked against the server, which (unlike moto) verifies
signatures and expiry."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from flask_indox_media.testing import RGW, serve_wsgi
from tests import gateway_app
from tests.conftest import ALICE, gateway_config, rgw_config

pytestmark = pytest.mark.realworld

P = "/api/v1/resemble"
REPO = Path(__file__).resolve().parents[1]


def run_worker(config: dict[str, Any]) -> str:
    """``flask indox-media worker --burst`` in a process of its own, configured
    by environment variables only; its output."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "indox-media", "worker", "--burst"],
        cwd=REPO,
        env=gateway_app.environment(config),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture
def config(rgw: RGW, redis_db: str, upstream: str) -> dict[str, Any]:
    return {
        **gateway_config(upstream),
        **rgw_config(rgw, "r2"),
        "INDOX_MEDIA_REDIS_URL": redis_db,
    }


@pytest.fixture
def served(config: dict[str, Any]) -> Iterator[tuple[Flask, str]]:
    from example_app import create_app

    app = create_app(config)
    with serve_wsgi(app) as url:
        yield app, url


@pytest.fixture
def mirrored(
    served: tuple[Flask, str], config: dict[str, Any], fake: Any
) -> tuple[dict[str, Any], bytes]:
    """A clip created through the gateway over HTTP, mirrored by a worker
    process; its ``item`` and the upstream's bytes."""
    _, url = served
    response = requests.post(
        f"{url}{P}/projects/p/clips",
        json={"voice_uuid": "v", "body": "x"},
        headers=ALICE,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["item"]
    # Presigned before the object exists: the server has nothing yet.
    assert requests.get(item["audio_url"], timeout=10).status_code == 404
    output = run_worker(config)
    assert "Job OK" in output or "Successfully completed" in output, output
    return item, fake.files[item["resemble_url"].rsplit("/", 1)[1]][0]


def tampered(url: str) -> str:
    """``url`` with the last character of its signature changed."""
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    changed = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    return url.replace(f"X-Amz-Signature={signature}", f"X-Amz-Signature={changed}")


def test_the_worker_mirrors_and_the_presigned_url_serves_the_bytes(
    rgw: RGW, mirrored: tuple[dict[str, Any], bytes]
) -> None:
    item, data = mirrored
    assert item["audio_url"].startswith(rgw.endpoint + "/")
    response = requests.get(item["audio_url"], timeout=10)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "audio/wav"


def test_a_tampered_signature_is_refused(
    mirrored: tuple[dict[str, Any], bytes],
) -> None:
    item, _ = mirrored
    response = requests.get(tampered(item["audio_url"]), timeout=10)
    assert response.status_code == 403
    assert b"SignatureDoesNotMatch" in response.content


def test_a_url_past_its_ttl_is_refused(
    config: dict[str, Any], mirrored: tuple[dict[str, Any], bytes]
) -> None:
    from example_app import create_app

    item, data = mirrored
    short = create_app({**config, "INDOX_MEDIA_PRESIGN_TTL": 2}).test_client()
    described = short.get(f"{P}/media/{item['asset_id']}", headers=ALICE).get_json()
    url = described["audio_url"]
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["2"]
    # X-Amz-Date has whole seconds, so at least one second of life is left.
    assert requests.get(url, timeout=10).content == data
    # The server's clock decides expiry: the one wait in this suite.
    time.sleep(3.2)
    assert requests.get(url, timeout=10).status_code == 403


def test_the_stable_link_redirects_to_a_url_the_server_accepts(
    served: tuple[Flask, str], mirrored: tuple[dict[str, Any], bytes]
) -> None:
    _, url = served
    item, data = mirrored
    link = f"{url}{P}/media/{item['asset_id']}/audio"
    response = requests.get(link, headers=ALICE, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    target = response.headers["Location"]
    assert target.startswith(urlsplit(item["audio_url"])._replace(query="").geturl())
    fetched = requests.get(target, timeout=10)
    assert (fetched.status_code, fetched.content) == (200, data)
