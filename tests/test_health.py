"""/healthz and /readyz: unauthenticated, over real HTTP, against a real Redis
and a real (moto server) bucket, and with each taken away."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from flask import Flask

from flask_indox_media import ConfigurationError
from flask_indox_media.testing import free_port, serve_wsgi
from tests.conftest import r2_config


def test_healthz_and_readyz_when_all_is_up(
    make_gateway: Callable[..., Flask], redis_db: str, moto_endpoint: str
) -> None:
    app = make_gateway({**r2_config(moto_endpoint), "INDOX_MEDIA_REDIS_URL": redis_db})
    with serve_wsgi(app) as base:
        health = requests.get(f"{base}/healthz", timeout=10)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["redis"]["ok"] and body["checks"]["redis"]["ms"] >= 0
    assert (
        body["checks"]["storage"]["ok"] and body["checks"]["storage"]["backend"] == "r2"
    )


@pytest.mark.parametrize("down", ["redis", "storage"])
def test_readyz_is_503_naming_what_is_down(
    make_gateway: Callable[..., Flask], redis_db: str, moto_endpoint: str, down: str
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    config = {**r2_config(moto_endpoint), "INDOX_MEDIA_REDIS_URL": redis_db}
    if down == "redis":
        config["INDOX_MEDIA_REDIS_URL"] = f"redis://{dead}/0"
    else:
        config["INDOX_MEDIA_R2_ENDPOINT_URL"] = f"http://{dead}"
    app = make_gateway(config)
    with serve_wsgi(app) as base:
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
        ready = requests.get(f"{base}/readyz", timeout=30)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks[down]["ok"] is False and checks[down]["error"]
    other = "storage" if down == "redis" else "redis"
    assert checks[other]["ok"] is True
    assert "testing" not in ready.text  # no credentials, no endpoint secrets


def test_health_routes_can_move_or_go(make_gateway: Callable[..., Flask]) -> None:
    moved = make_gateway({"INDOX_MEDIA_HEALTH_PREFIX": "/ops"}).test_client()
    assert moved.get("/ops/healthz").status_code == 200
    assert moved.get("/healthz").status_code == 404
    gone = make_gateway({"INDOX_MEDIA_HEALTH_PREFIX": None}).test_client()
    assert gone.get("/healthz").status_code == 404
    with pytest.raises(ConfigurationError) as info:
        make_gateway({"INDOX_MEDIA_HEALTH_PREFIX": "ops"})
    assert info.value.key == "INDOX_MEDIA_HEALTH_PREFIX"
