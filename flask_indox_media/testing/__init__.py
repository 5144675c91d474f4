"""Helpers for testing apps that use flask-indox-media: generated audio, and a
fake Resemble upstream."""

from __future__ import annotations

from .audio import audio_bytes, mp3_bytes, wav_bytes

__all__ = ["audio_bytes", "mp3_bytes", "wav_bytes"]
