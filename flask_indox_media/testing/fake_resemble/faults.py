"""Injected trouble: latency, random and scheduled failures, and file
downloads that are cut short or stall."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from flask import Response

from .web import error_response

#: How a file download misbehaves: ``cut`` closes the connection half-way
#: (the client sees fewer bytes than ``Content-Length``); ``stall`` sends
#: part of the body and then nothing, until :meth:`Faults.release_stalls` or
#: ``stall_timeout``.
FileFaultMode = Literal["cut", "stall"]


@dataclass(frozen=True)
class FileFault:
    """A broken download of one file.

    :param mode: ``"cut"`` or ``"stall"``.
    :param after: bytes sent before the break; ``None`` is half the file.
    """

    mode: FileFaultMode
    after: int | None = None


@dataclass
class _Scheduled:
    remaining: int
    status: int
    message: str
    path: str | None


class Faults:
    """The fault settings of one fake and the state they need.

    :param latency: seconds slept before answering an API route.
    :param file_latency: seconds slept before answering a file download.
    :param failure_rate: probability (0..1) that an API request is answered
        500 instead.
    :param seed: seeds the random failures, so a test sees the same ones on
        every run.
    :param sleep: what sleeps (``time.sleep``); tests may record the calls.
    :param stall_timeout: longest a stalled download waits to be released.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        file_latency: float = 0.0,
        failure_rate: float = 0.0,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stall_timeout: float = 60.0,
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if latency < 0 or file_latency < 0:
            raise ValueError("latency and file_latency must not be negative")
        self.latency = latency
        self.file_latency = file_latency
        self.failure_rate = failure_rate
        self.sleep = sleep
        self.stall_timeout = stall_timeout
        self.file_faults: dict[str, FileFault] = {}
        self._random = random.Random(seed)
        self._scheduled: list[_Scheduled] = []
        self._released = threading.Event()
        self._lock = threading.Lock()

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        message: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` API requests (those whose path starts with
        ``path``, if given) with ``status`` and a JSON error body."""
        text = message or f"injected failure ({status})"
        with self._lock:
            self._scheduled.append(_Scheduled(n, status, text, path))

    def before_api(self, path: str) -> Response | None:
        """Sleep the latency, then the injected failure for this request, if any."""
        if self.latency:
            self.sleep(self.latency)
        with self._lock:
            for scheduled in self._scheduled:
                if scheduled.path is None or path.startswith(scheduled.path):
                    scheduled.remaining -= 1
                    if scheduled.remaining <= 0:
                        self._scheduled.remove(scheduled)
                    return error_response(scheduled.status, scheduled.message)
            unlucky = (
                self.failure_rate > 0 and self._random.random() < self.failure_rate
            )
        if unlucky:
            return error_response(500, "injected random failure")
        return None

    def release_stalls(self) -> None:
        """Let every stalled download end (cut short); later stalls end at once."""
        self._released.set()

    def file_response(self, name: str, data: bytes, content_type: str) -> Response:
        """The download of one file, broken as ``file_faults`` says."""
        if self.file_latency:
            self.sleep(self.file_latency)
        fault = self.file_faults.get(name)
        if fault is None:
            return Response(data, content_type=content_type)
        after = len(data) // 2 if fault.after is None else min(fault.after, len(data))
        # The full length is announced, so the client can tell the body is short.
        return Response(
            self._broken(data[:after], fault.mode),
            content_type=content_type,
            headers={"Content-Length": str(len(data))},
            direct_passthrough=True,
        )

    def _broken(self, head: bytes, mode: FileFaultMode) -> Iterator[bytes]:
        if head:
            yield head
        if mode == "stall":
            self._released.wait(self.stall_timeout)
        # Ending the body early closes the connection (werkzeug's server never
        # keeps one alive), leaving the client short of Content-Length.
