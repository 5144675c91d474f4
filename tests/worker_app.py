"""An app configured by the environment alone, for workers started as
processes of their own (``flask --app tests.worker_app:create_app ...``), and a
host's own job for them to run beside the mirrors."""

from __future__ import annotations

import os

from flask import Flask
from rq import get_current_job

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
