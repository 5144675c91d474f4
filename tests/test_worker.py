"""Crash recovery with real processes: a worker (and its work horse, if it
forks) killed mid-job (``SIGKILL``), a new worker started at once; the object
lands within two minutes, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq.registry import StartedJobRegistry

from tests import gateway_app
from tests.conftest import create_clip

ROOT = Path(__file__).resolve().parents[1]
RQ = str(Path(sys.executable).parent / "rq")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the horse calls setpgrp: its own group)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    for pid in [*descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(
        env: dict[str, str], log: str, worker_class: str = "IndoxWorker"
    ) -> subprocess.Popen[bytes]:
        with (tmp_path / log).open("wb") as output:  # the child keeps its copy
            proc = subprocess.Popen(
                [RQ, "worker", "-w", f"flask_indox_media.worker.{worker_class}"]
                + ["--url", env["INDOX_MEDIA_REDIS_URL"], "indox-media"],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            kill_tree(proc)


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - start


@pytest.mark.parametrize(
    ("sole_consumer", "worker_class"),
    [
        pytest.param(True, "IndoxWorker", id="sole"),
        pytest.param(False, "IndoxWorker", id="shared"),
        pytest.param(True, "IndoxForkingWorker", id="sole-forking"),
    ],
)
def test_a_killed_worker_s_job_lands_within_two_minutes_exactly_once(
    make_gateway: Callable[..., Flask],
    redis_db: str,
    fake: Any,
    tmp_path: Path,
    start_worker: Callable[..., subprocess.Popen[bytes]],
    sole_consumer: bool,
    worker_class: str,
) -> None:
    config: dict[str, Any] = {
        "INDOX_MEDIA_REDIS_URL": redis_db,
        "INDOX_MEDIA_LOCAL_ROOT": str(tmp_path / "media"),
        "INDOX_MEDIA_JOB_RETRIES": [1, 2, 5],
    }
    app = make_gateway(config)
    source_config = {
        k: str(v) for k, v in app.config.items() if k == "INDOX_MEDIA_SOURCE_HOSTS"
    }
    env = {
        **gateway_app.environment({**config, **source_config}),
        "SECRET_KEY": "test-secret",
    }
    item = create_clip(app.test_client())
    fake.break_file(item["resemble_url"], "stall")  # the first download hangs
    state = app.extensions["indox_media"]
    key = state.catalog.primary.key_from_url(item["audio_url"]) or ""
    redis = Redis.from_url(redis_db)
    registry = StartedJobRegistry(queue=state.queue.rq)
    first = start_worker(env, "worker-1.log", worker_class)
    wait_for(lambda: len(registry.get_job_ids()) == 1, 30)
    time.sleep(1)  # well into the stalled download
    kill_tree(first)
    fake.faults.file_faults.clear()  # the source answers again
    second_env = {**env, "INDOX_WORKER_SOLE_CONSUMER": "1" if sole_consumer else ""}
    start_worker(second_env, "worker-2.log", worker_class)
    took = wait_for(lambda: state.catalog.primary.exists(key), 120)
    fake.release_stalls()
    print(f"recovered in {took:.1f} s")
    assert took < (20 if sole_consumer else 120)
    stored = list(state.catalog.primary.list_objects("tts/alice/"))
    assert [o.key for o in stored] == [key]  # exactly one object
    with state.catalog.primary.open(key) as data:
        assert data.read() == fake.files[item["resemble_url"].rsplit("/", 1)[1]][0]
    redis.close()
