"""Helpers for testing apps that use flask-indox-media: generated audio, a
fake Resemble upstream, and a headless browser that plays audio."""

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
from .server import free_port, redis_server, serve_process, serve_wsgi

__all__ = [
    "AudioError",
    "AudioProbe",
    "BrowserUnavailableError",
    "FakeResemble",
    "audio_bytes",
    "audio_page_html",
    "chromium",
    "free_port",
    "mp3_bytes",
    "probe_audio",
    "redis_server",
    "serve_process",
    "serve_wsgi",
    "wav_bytes",
]
