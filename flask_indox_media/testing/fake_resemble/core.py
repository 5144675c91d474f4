"""The fake's state and settings, and the Flask app that serves them."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from . import (
    routes_batches,
    routes_catalog,
    routes_detect,
    routes_jobs,
    routes_synthesis,
    routes_voices,
)
from .callbacks import CallbackMode, Callbacks, Delivery
from .faults import Faults, FileFault, FileFaultMode
from .web import EXTENSION_KEY, ApiError, now, register_error_handlers

DEFAULT_KEY = "fake-resemble-key"


class FakeResemble:
    """A fake Resemble upstream: its state, its settings, and :attr:`app`.

    Every dict below is public, so a test can read what the fake holds or put
    something there (a clip whose audio is missing, say).

    :param api_key: the key it accepts, as ``Token token=<key>``,
        ``Bearer <key>`` or an ``x-access-token`` header.
    :param polls_until_done: GETs of an async job that still show it running.
    :param callbacks: ``"manual"`` (queued until :meth:`deliver_callbacks`)
        or ``"auto"`` (POSTed from a thread when the job finishes).
    :param callback_delay: seconds an ``auto`` callback waits before it is sent.
    :param latency: seconds slept before answering each API request.
    :param file_latency: seconds slept before answering each file download.
    :param failure_rate: probability (0..1) that an API request fails with a
        JSON 500.
    :param seed: seeds ``failure_rate``, so the failures repeat run to run.
    :param sleep: what sleeps for ``latency``, ``file_latency`` and
        ``callback_delay`` (``time.sleep``); a test may pass a recorder.
    :param stall_timeout: longest a stalled download waits to be released.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_KEY,
        *,
        polls_until_done: int = 1,
        callbacks: CallbackMode = "manual",
        callback_delay: float = 0.0,
        latency: float = 0.0,
        file_latency: float = 0.0,
        failure_rate: float = 0.0,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stall_timeout: float = 60.0,
    ) -> None:
        self.api_key = api_key
        self.polls_until_done = polls_until_done
        self.faults = Faults(
            latency=latency,
            file_latency=file_latency,
            failure_rate=failure_rate,
            seed=seed,
            sleep=sleep,
            stall_timeout=stall_timeout,
        )
        #: What sends callbacks; ``callbacks.mode`` is the ``callbacks`` setting.
        self.callbacks = Callbacks(callbacks, delay=callback_delay, sleep=sleep)
        #: Stored audio: file name -> (bytes, content type), served at ``/files/<name>``.
        self.files: dict[str, tuple[bytes, str]] = {}
        #: Async jobs (STT, enhance, edit, watermark, detect) by uuid.
        self.jobs: dict[str, dict[str, Any]] = {}
        self.clips: dict[str, dict[str, Any]] = {}
        #: The project of each clip created through the API.
        self.clip_projects: dict[str, str] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.voices: dict[str, dict[str, Any]] = {}
        self.recordings: dict[str, dict[str, Any]] = {}
        #: The voice of each recording created through the API.
        self.recording_voices: dict[str, str] = {}
        self.phonemes: dict[str, dict[str, Any]] = {}
        self.term_substitutions: dict[str, dict[str, Any]] = {}
        #: Secure-upload tokens -> (bytes, content type, file name).
        self.uploads: dict[str, tuple[bytes, str, str]] = {}
        #: Every API request: method, path, headers, query args, JSON body, form.
        self.received: list[dict[str, Any]] = []
        self.file_gets = 0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        for name in ("Ava", "Ben"):
            routes_voices.seed_voice(self, name)
        self.app = self._build()

    # Settings, readable and writable after construction -----------------

    @property
    def latency(self) -> float:
        """Seconds slept before answering each API request."""
        return self.faults.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.faults.latency = seconds

    @property
    def file_latency(self) -> float:
        """Seconds slept before answering each file download."""
        return self.faults.file_latency

    @file_latency.setter
    def file_latency(self, seconds: float) -> None:
        self.faults.file_latency = seconds

    @property
    def failure_rate(self) -> float:
        """Probability (0..1) that an API request fails with a JSON 500."""
        return self.faults.failure_rate

    @failure_rate.setter
    def failure_rate(self, rate: float) -> None:
        self.faults.failure_rate = rate

    @property
    def file_faults(self) -> dict[str, FileFault]:
        """File name -> how its download breaks (see :meth:`break_file`)."""
        return self.faults.file_faults

    @property
    def pending_callbacks(self) -> list[tuple[str, dict[str, Any]]]:
        """Callbacks (URL, JSON body) waiting for :meth:`deliver_callbacks`."""
        return self.callbacks.pending

    @pending_callbacks.setter
    def pending_callbacks(self, value: list[tuple[str, dict[str, Any]]]) -> None:
        self.callbacks.pending = value

    @property
    def delivered_callbacks(self) -> list[Delivery]:
        """Every callback sent so far, manual or auto, with its outcome."""
        return self.callbacks.delivered

    # Methods ---------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh id, unique across every kind of object: ``<prefix><n>``."""
        with self._lock:
            return f"{prefix}{next(self._ids)}"

    def once(self, record: dict[str, Any], field: str, make: Callable[[], Any]) -> Any:
        """``record[field]``, set by ``make()`` on first use: once, even when
        concurrent polls of the record race (the server is threaded)."""
        with self._lock:
            if field not in record:
                record[field] = make()
            return record[field]

    def add_file(self, data: bytes, content_type: str, ext: str) -> str:
        """Store audio; returns its URL on the fake (needs a request context)."""
        name = self.new_id("f") + "." + ext
        self.files[name] = (data, content_type)
        return f"{request.host_url}files/{name}"

    def deliver_callbacks(self) -> list[int]:
        """POST every pending callback now; returns the receivers' statuses."""
        return self.callbacks.deliver()

    def wait_for_callbacks(self, timeout: float = 30.0) -> list[Delivery]:
        """Wait until the ``auto`` callbacks started so far have been sent;
        returns every delivery so far."""
        return self.callbacks.wait(timeout)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        message: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` API requests with ``status`` and a JSON body.

        :param path: only requests whose path starts with this (e.g.
            ``"/api/v2/voices"``) count and fail.
        """
        self.faults.fail_next(n, status, message=message, path=path)

    def break_file(
        self, name: str, mode: FileFaultMode = "cut", *, after: int | None = None
    ) -> None:
        """Make downloads of ``/files/<name>`` break.

        :param name: the file name, or a URL ending in it (query ignored).
        :param mode: ``"cut"``: the connection closes after ``after`` bytes
            of the announced length; ``"stall"``: the body stops there until
            :meth:`release_stalls` (or ``stall_timeout``).
        :param after: bytes sent first; ``None`` is half the file.
        """
        name = name.split("?")[0].rsplit("/", 1)[-1]
        self.faults.file_faults[name] = FileFault(mode, after)

    def release_stalls(self) -> None:
        """End every stalled download; call it before the server stops."""
        self.faults.release_stalls()

    def is_done(self, record: dict[str, Any]) -> bool:
        """Whether an async ``record`` (a job or a batch) has finished: the
        one place that decides."""
        return bool(record.get("done")) or record.get("polls", 0) > (
            self.polls_until_done
        )

    def progress(self, record: dict[str, Any]) -> bool:
        """Count one GET of an async ``record``; returns :meth:`is_done`."""
        record["polls"] = record.get("polls", 0) + 1
        return self.is_done(record)

    def poll_job(self, job_id: str) -> tuple[dict[str, Any], bool]:
        """Count a GET of the job; returns it and whether it has finished."""
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"job {job_id} not found")
        return job, self.progress(job)

    def stamp(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` with fresh ``created_at`` and ``updated_at``."""
        item["created_at"] = item["updated_at"] = now()
        return item

    def _build(self) -> Flask:
        app = Flask("fake_resemble")
        app.extensions[EXTENSION_KEY] = self
        register_error_handlers(app)
        app.before_request(self._before_request)
        app.add_url_rule("/files/<name>", "file", self._file)
        for module in (
            routes_batches,
            routes_catalog,
            routes_detect,
            routes_jobs,
            routes_synthesis,
            routes_voices,
        ):
            app.register_blueprint(module.bp)
        return app

    def _before_request(self) -> Response | None:
        if request.path.startswith("/files/"):
            return None
        self.received.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "args": request.args.to_dict(),
                "json": request.get_json(silent=True),
                "form": request.form.to_dict(),
            }
        )
        injected = self.faults.before_api(request.path)
        if injected is not None:
            return injected
        if not self._authorized():
            raise ApiError(401, "Invalid API token")
        return None

    def _authorized(self) -> bool:
        header = request.headers.get("Authorization", "")
        return header in (
            f"Token token={self.api_key}",
            f"Bearer {self.api_key}",
        ) or (request.headers.get("x-access-token") == self.api_key)

    def _file(self, name: str) -> Response:
        if name not in self.files:
            raise ApiError(404, f"file {name} not found")
        self.file_gets += 1
        data, content_type = self.files[name]
        return self.faults.file_response(name, data, content_type)
