"""Helpers for testing apps that use flask-indox-media: generated audio, a
fake Resemble upstream, and real servers (Redis, an S3 gateway) on loopback."""

from __future__ import annotations

from .audio import audio_bytes, mp3_bytes, wav_bytes
from .fake_resemble import FakeResemble
from .rgw import RGW, RGWStartError, RGWUnavailableError, rgw_available, rgw_server
from .server import free_port, redis_server, serve_process, serve_wsgi

__all__ = [
    "FakeResemble",
    "RGW",
    "RGWStartError",
    "RGWUnavailableError",
    "audio_bytes",
    "free_port",
    "mp3_bytes",
    "redis_server",
    "rgw_available",
    "rgw_server",
    "serve_process",
    "serve_wsgi",
    "wav_bytes",
]
