"""Callbacks, POSTed to ``callback_uri``/``callback_url`` when a job finishes:
queued for the test to deliver (``manual``) or sent from a background thread
(``auto``), as Resemble sends them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import requests

#: ``manual``: queued in ``pending_callbacks`` until
#: :meth:`Callbacks.deliver`; ``auto``: POSTed by a thread after ``delay``.
CallbackMode = Literal["manual", "auto"]


@dataclass(frozen=True)
class Delivery:
    """One callback POST and how it went.

    :param url: where it was sent.
    :param body: the JSON payload.
    :param status: the receiver's HTTP status, ``None`` if it was unreachable.
    :param error: the exception's text when it was unreachable.
    """

    url: str
    body: dict[str, Any]
    status: int | None
    error: str | None = None


class Callbacks:
    """The callbacks of one fake.

    :param mode: ``"manual"`` (the default) or ``"auto"``.
    :param delay: seconds an ``auto`` callback waits before it is sent.
    :param sleep: what waits (``time.sleep``).
    :param timeout: seconds to wait for a receiver to answer.
    """

    def __init__(
        self,
        mode: CallbackMode = "manual",
        *,
        delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        if mode not in ("manual", "auto"):
            raise ValueError("callbacks must be 'manual' or 'auto'")
        self.mode: CallbackMode = mode
        self.delay = delay
        self.sleep = sleep
        self.timeout = timeout
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.delivered: list[Delivery] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def send(self, url: str, body: dict[str, Any]) -> None:
        """A job finished: queue its callback, or start sending it."""
        if self.mode == "manual":
            self.pending.append((url, body))
            return
        thread = threading.Thread(
            target=self._send_later, args=(url, body), daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def deliver(self) -> list[int]:
        """POST every queued callback now; returns the receivers' statuses."""
        pending, self.pending = self.pending, []
        statuses = []
        for url, body in pending:
            status = requests.post(url, json=body, timeout=self.timeout).status_code
            self._record(Delivery(url, body, status))
            statuses.append(status)
        return statuses

    def wait(self, timeout: float = 30.0) -> list[Delivery]:
        """Wait for the ``auto`` callbacks started so far; returns every delivery."""
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)
        with self._lock:
            self._threads.extend(t for t in threads if t.is_alive())
            return list(self.delivered)

    def _send_later(self, url: str, body: dict[str, Any]) -> None:
        if self.delay:
            self.sleep(self.delay)
        try:
            status = requests.post(url, json=body, timeout=self.timeout).status_code
        except requests.RequestException as exc:
            # Never raise in the thread: the receiver's trouble is the test's
            # to inspect in ``delivered``, not an unhandled-thread error.
            self._record(Delivery(url, body, None, str(exc)))
            return
        self._record(Delivery(url, body, status))

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.delivered.append(delivery)
