"""The test servers' launcher (:func:`flask_indox_media.testing.serve_process`)."""

from __future__ import annotations

import socket
import sys

from flask_indox_media.testing import free_port, serve_process


def test_serve_process_yields_the_listening_process_and_ends_it() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with serve_process(argv, port) as proc:
        assert proc.poll() is None
        assert proc.args == argv
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert proc.poll() is not None
