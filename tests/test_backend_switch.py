"""Switching the write backend at runtime: ``flask indox-media backend use |
show | clear``, the cached read every process makes, and ``doctor``. The
multi-process rollback is in ``test_backend_rollback.py``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from redis import Redis

from flask_indox_media.write_backend import OVERRIDE_KEY, Override, WriteBackend
from tests.test_cli import run, two_buckets


class CountingRedis:
    """A real Redis connection that counts its GETs."""

    def __init__(self, url: str) -> None:
        self.conn = Redis.from_url(url)
        self.gets = 0

    def get(self, name: str) -> Any:
        self.gets += 1
        return self.conn.get(name)


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def both(make_app: Callable[..., Flask], moto_endpoint: str, redis_db: str) -> Flask:
    """R2 (chosen) and S3 configured, with Redis."""
    return make_app({**two_buckets(moto_endpoint), "INDOX_MEDIA_REDIS_URL": redis_db})


def test_the_override_is_read_once_per_refresh(redis_db: str) -> None:
    redis = CountingRedis(redis_db)
    ticks = Ticks()
    chosen = WriteBackend(redis, ["r2", "s3"], "r2", ttl=2.0, clock=ticks)  # type: ignore[arg-type]
    assert [chosen() for _ in range(50)] == ["r2"] * 50
    assert redis.gets == 1
    redis.conn.set(OVERRIDE_KEY, Override("s3", "ops@host", "now").dumps())
    ticks.now += 1.9
    assert chosen() == "r2" and redis.gets == 1  # still cached
    ticks.now += 0.2
    assert [chosen() for _ in range(50)] == ["s3"] * 50
    assert redis.gets == 2
    redis.conn.delete(OVERRIDE_KEY)
    ticks.now += 2.0
    assert chosen() == "r2" and redis.gets == 3


def test_an_unconfigured_or_garbled_override_is_ignored_with_a_warning(
    redis_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    redis = CountingRedis(redis_db)
    ticks = Ticks()
    chosen = WriteBackend(redis, ["r2", "s3"], "r2", clock=ticks)  # type: ignore[arg-type]
    redis.conn.set(OVERRIDE_KEY, Override("gcs", "ops@host", "now").dumps())
    with caplog.at_level(logging.WARNING, "flask_indox_media"):
        for _ in range(3):
            assert chosen() == "r2"
            ticks.now += 5
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1  # once, not at every refresh
    assert "'gcs'" in warnings[0] and "r2, s3" in warnings[0]
    redis.conn.set(OVERRIDE_KEY, b"not json")
    assert chosen() == "r2"
    assert "malformed" in caplog.records[-1].getMessage()


def test_a_redis_outage_keeps_the_last_choice(
    redis_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    from flask_indox_media.testing import free_port

    ticks = Ticks()
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    chosen = WriteBackend(down, ["r2", "s3"], "r2", clock=ticks)
    chosen._name = "s3"  # as last read
    with caplog.at_level(logging.WARNING, "flask_indox_media"):
        assert chosen() == "s3"
    assert "cannot read the backend override" in caplog.text


def test_use_show_clear(both: Flask) -> None:
    state = both.extensions["indox_media"]
    shown = run(both, "backend", "show")
    assert shown.exit_code == 0, shown.output
    assert (
        "new assets go to: r2 (chosen by INDOX_MEDIA_STORAGE_BACKEND)" in shown.output
    )
    assert "configured: r2, s3" in shown.output
    used = run(both, "backend", "use", "s3")
    assert used.exit_code == 0, used.output
    assert "new assets go to s3" in used.output
    stored = Override.loads(state.redis.get(OVERRIDE_KEY))
    assert stored.backend == "s3" and "@" in stored.set_by
    assert stored.set_at == "2026-05-01T10:15:00Z"  # the app's clock
    shown = run(both, "backend", "show")
    assert "new assets go to: s3 (chosen by the runtime override)" in shown.output
    assert f"set by {stored.set_by}" in shown.output
    assert "start-up choice: r2" in shown.output
    doctor = run(both, "doctor")
    assert "[warn] write backend: s3: runtime override set by" in doctor.output
    cleared = run(both, "backend", "clear")
    assert cleared.exit_code == 0 and "override removed" in cleared.output
    assert state.redis.get(OVERRIDE_KEY) is None
    assert "there was no override" in run(both, "backend", "clear").output
    assert (
        "[  ok] write backend: r2 (no runtime override)" in run(both, "doctor").output
    )


def test_only_a_configured_backend_can_be_used(both: Flask) -> None:
    result = run(both, "backend", "use", "gcs")
    assert result.exit_code == 1
    assert "'gcs' is not a configured backend; configured: r2, s3" in result.output
    result = run(both, "backend", "use", "local")
    assert result.exit_code == 1 and "configured: r2, s3" in result.output
    assert both.extensions["indox_media"].redis.get(OVERRIDE_KEY) is None


def test_show_names_an_ignored_override(both: Flask) -> None:
    both.extensions["indox_media"].redis.set(
        OVERRIDE_KEY, Override("gcs", "ops@old-host", "then").dumps()
    )
    shown = run(both, "backend", "show")
    assert (
        "new assets go to: r2 (chosen by INDOX_MEDIA_STORAGE_BACKEND)" in shown.output
    )
    assert "'gcs'" in shown.output and "ignored" in shown.output
    assert "[warn] write backend" in run(both, "doctor").output


@pytest.mark.parametrize("args", [["use", "s3"], ["show"], ["clear"]])
def test_without_redis_the_commands_say_so(
    make_app: Callable[..., Flask], moto_endpoint: str, args: list[str]
) -> None:
    app = make_app(two_buckets(moto_endpoint))
    result = run(app, "backend", *args)
    assert result.exit_code == 1
    assert "needs INDOX_MEDIA_REDIS_URL" in result.output
