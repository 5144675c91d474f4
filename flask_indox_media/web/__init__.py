"""The HTTP layer: the gateway blueprint with every route registered on it,
and the local backend's file server."""

from __future__ import annotations

from . import callbacks, media, native, resemble, streaming, uploads
from .blueprint import bp

__all__ = ["bp", "callbacks", "media", "native", "resemble", "streaming", "uploads"]
