"""The ``flask indox-media`` commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .extension import EXTENSION_KEY, IndoxMediaState

cli = AppGroup(
    "indox-media", help="flask-indox-media: mirror workers and storage operations."
)


def _state() -> IndoxMediaState:
    state: IndoxMediaState = current_app.extensions[EXTENSION_KEY]
    return state


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Drain the queue, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker for the mirror queue, in the app's context, with the
    scheduler (so retries with intervals run)."""
    from rq import Worker

    state = _state()
    if state.mirror.queue is None:
        raise click.ClickException(
            "INDOX_MEDIA_REDIS_URL is not set: without Redis, mirroring runs in-process "
            "and there is no queue to work."
        )
    click.echo(f"indox-media worker on queue {state.mirror.queue.name!r}")
    Worker([state.mirror.queue], connection=state.mirror.redis).work(
        burst=burst, with_scheduler=True
    )
