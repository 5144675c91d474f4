"""An app configured by the environment alone, for workers started as
processes of their own (``flask --app tests.worker_app:create_app ...``), and a
host's own job for them to run beside the mirrors."""

from __future__ import annotations

import os
import time

from flask import Flask
from rq import get_current_job
from rq.job import Job

from flask_indox_media import IndoxMedia


def create_app() -> Flask:
    app = Flask("worker_app")
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "test-secret")
    app.config.update(
        {k: v for k, v in os.environ.items() if k.startswith("INDOX_MEDIA_")}
    )
    IndoxMedia(app)
    return app


def host_job(tag: str) -> int:
    """Records, under ``ran:<tag>``, the process and the worker that ran it."""
    job = get_current_job()
    assert job is not None
    job.connection.hset(
        f"ran:{tag}", mapping={"pid": os.getpid(), "worker": job.worker_name or ""}
    )
    return os.getpid()


def host_wait(tag: str) -> None:
    """Records that it started, then sleeps a minute unless stopped (it
    records ``done`` only if it was not)."""
    job = get_current_job()
    assert job is not None
    job.connection.hset(f"ran:{tag}", mapping={"pid": os.getpid()})
    time.sleep(60)
    job.connection.hset(f"ran:{tag}", mapping={"done": 1})


def host_heartbeat(tag: str) -> None:
    """Records whether its heartbeat was renewed while it ran (it waits for
    the renewal, 30 s at most)."""
    job = get_current_job()
    assert job is not None
    first = Job.fetch(job.id, connection=job.connection).last_heartbeat
    renewed = False
    deadline = time.monotonic() + 30
    while not renewed and time.monotonic() < deadline:
        time.sleep(0.1)
        renewed = Job.fetch(job.id, connection=job.connection).last_heartbeat != first
    job.connection.hset(f"ran:{tag}", mapping={"renewed": int(renewed)})
