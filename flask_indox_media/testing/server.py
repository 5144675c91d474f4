"""Serving a WSGI app on a loopback port from a thread, for tests and demos."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serve_wsgi(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port of ``host``; yields the base URL
    (``http://127.0.0.1:PORT``) and stops the server on exit."""
    server = make_server(
        host, 0, _closing(app), threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _closing(app: Any) -> Any:
    # Werkzeug's development server reads what is left of the request before
    # it closes the answer; when the client has reset the connection (a
    # browser cancelling a media load does) that read raises and close() is
    # skipped, leaking e.g. the file of a send_file answer. A generator's
    # finally runs when it is exhausted or dropped, so the answer is closed.
    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        return _close_after(app(environ, start_response))

    return wrapped


def _close_after(answer: Iterable[bytes]) -> Iterator[bytes]:
    try:
        yield from answer
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    """Wait until something accepts connections on ``port`` of 127.0.0.1.

    :raises RuntimeError: ``proc`` exited first, or ``timeout`` seconds passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{proc.args!r} did not start listening on {port}"
                ) from None
            time.sleep(0.05)


@contextmanager
def serve_process(
    argv: list[str], port: int, *, timeout: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (a server that will listen on ``port``), wait until it
    accepts connections, yield its process, and terminate it on exit."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, port, timeout)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


class RedisProcess:
    """A redis-server of its own on a fixed loopback port that a test can kill
    (``SIGKILL``: no goodbye, no final save) and start again on the same port.

    :param aof_dir: keep an append-only file (``appendfsync always``) in this
        folder, so a restart finds every acknowledged write; ``None`` keeps
        nothing on disk (a restart starts empty).
    """

    def __init__(
        self, binary: str = "redis-server", *, aof_dir: str | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.argv += ["--save", ""]
        if aof_dir is None:
            self.argv += ["--appendonly", "no"]
        else:
            self.argv += ["--appendonly", "yes", "--appendfsync", "always"]
            self.argv += ["--dir", aof_dir]
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        """Start it (again) and wait until it accepts connections."""
        proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._proc = proc
        wait_listening(proc, self.port, timeout)

    def kill(self) -> None:
        """Kill it at once (``SIGKILL``), as a crash or an OOM kill would."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def stop(self) -> None:
        """Terminate it cleanly."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None


@contextmanager
def redis_server(
    binary: str = "redis-server", *, aof_dir: str | None = None
) -> Iterator[str]:
    """A redis-server of its own on a free loopback port; yields its URL.

    :param aof_dir: persist with an append-only file in this folder (see
        :class:`RedisProcess`); by default nothing is kept on disk.
    """
    server = RedisProcess(binary, aof_dir=aof_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
