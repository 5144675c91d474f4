"""Helpers for testing apps that use flask-indox-media: generated audio, a
fake Resemble upstream, real servers (Redis, an S3 gateway) on loopback, and a
headless browser that plays audio."""

from __future__ import annotations

from .audio import audio_bytes, mp3_bytes, wav_bytes
from .browser import (
    AudioError,
    AudioProbe,
    BrowserUnavailableError,
    audio_page_html,
    chromium,
    probe_audio,
)
from .fake_resemble import FakeResemble
from .proxy import TcpProxy, tcp_proxy
from .rgw import RGW, RGWStartError, RGWUnavailableError, rgw_available, rgw_server
from .server import (
    RedisProcess,
    free_port,
    redis_server,
    serve_process,
    serve_wsgi,
)

__all__ = [
    "AudioError",
    "AudioProbe",
    "BrowserUnavailableError",
    "FakeResemble",
    "RGW",
    "RGWStartError",
    "RGWUnavailableError",
    "TcpProxy",
    "RedisProcess",
    "audio_bytes",
    "audio_page_html",
    "chromium",
    "free_port",
    "mp3_bytes",
    "probe_audio",
    "redis_server",
    "rgw_available",
    "rgw_server",
    "serve_process",
    "serve_wsgi",
    "tcp_proxy",
    "wav_bytes",
]
