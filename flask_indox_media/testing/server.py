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


@contextmanager
def serve_process(argv: list[str], port: int, *, timeout: float = 30) -> Iterator[None]:
    """Run ``argv`` (a server that will listen on ``port``), wait until it
    accepts connections, and terminate it on exit."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{argv[0]} did not start listening on {port}"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def redis_server(binary: str = "redis-server") -> Iterator[str]:
    """A redis-server of its own on a free loopback port, keeping nothing on
    disk; yields its URL."""
    port = free_port()
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    with serve_process(argv, port):
        yield f"redis://127.0.0.1:{port}/0"
