"""Helpers for testing apps that use flask-indox-media: generated audio, and a
fake Resemble upstream."""

from __future__ import annotations

from .audio import audio_bytes, mp3_bytes, wav_bytes
from .fake_resemble import FakeResemble
from .server import free_port, redis_server, serve_process, serve_wsgi

__all__ = [
    "FakeResemble",
    "audio_bytes",
    "free_port",
    "mp3_bytes",
    "redis_server",
    "serve_process",
    "serve_wsgi",
    "wav_bytes",
]
