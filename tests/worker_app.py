"""An app configured by the environment alone, for workers started as
processes of their own (``flask --app tests.worker_app:create_app ...``), and a
host's own job for them to run beside the mirrors."""

from __future__ import annotations

import os
import time

from flask import Flask
from rq import Queue, Worker, get_current_job
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


def host_observe(tag: str) -> None:
    """Records what Redis says of the job while it runs: its status, whether
    the started registry holds it, the worker's state, and whether it is
    still in the queue's intermediate list."""
    job = get_current_job()
    assert job is not None
    queue = Queue(job.origin, connection=job.connection)
    fresh = Job.fetch(job.id, connection=job.connection)
    worker = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + str(job.worker_name),
        connection=job.connection,
    )
    intermediate = job.connection.lrange(queue.intermediate_queue_key, 0, -1)
    job.connection.hset(
        f"ran:{tag}",
        mapping={
            "status": fresh.get_status().value,
            "started": int(job.id in queue.started_job_registry.get_job_ids()),
            "worker": worker.get_state() if worker else "",
            "intermediate": int(job.id.encode() in intermediate),
        },
    )
