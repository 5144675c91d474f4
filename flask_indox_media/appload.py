"""The host app of a worker process that did not push one (a plain
``rq worker``): the app ``FLASK_APP`` names, loaded once per process and
inherited by every work horse forked after it."""

from __future__ import annotations

import os

from flask import Flask
from flask.cli import NoAppException, ScriptInfo
from rq import get_current_job

from .exceptions import NoAppError

_loaded: Flask | None = None


def worker_app() -> Flask:
    """The app ``FLASK_APP`` names (loaded at the first call).

    :raises NoAppError: there is none; the running job, if any, is marked so
        that RQ does not retry it.
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    try:
        # ScriptInfo alone ignores FLASK_APP (flask's CLI passes it in).
        _loaded = ScriptInfo(app_import_path=os.environ.get("FLASK_APP")).load_app()
    except NoAppException as exc:
        job = get_current_job()
        if job is not None:
            # A misconfigured worker is not a flaky upstream: retrying would
            # spend the retries on workers as app-less as this one. RQ reads
            # this when the job fails, and sends it straight to the failed
            # registry with the message below, from where `rq requeue` runs
            # it (once, its retries gone) after the worker is fixed.
            job.retries_left = 0
        raise NoAppError(
            "this job needs the Flask app, and the worker has none: set FLASK_APP "
            "(e.g. FLASK_APP=yourapp:create_app rq worker ...), or run the worker "
            f"with `flask --app yourapp indox-media worker` ({exc})"
        ) from None
    return _loaded
