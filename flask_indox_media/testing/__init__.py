"""Helpers for testing apps that use flask-indox-media: generated audio, and a
fake Resemble upstream."""

from __future__ import annotations

from .audio import audio_bytes, mp3_bytes, wav_bytes
from .fake_resemble import FakeResemble
from .server import serve_wsgi

__all__ = ["FakeResemble", "audio_bytes", "mp3_bytes", "serve_wsgi", "wav_bytes"]
