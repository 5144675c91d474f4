"""HMAC signatures for the tokens the extension hands out (local-backend URLs,
asset ids, callback URLs), each under its own purpose so one cannot stand for
another."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret: bytes, purpose: str, message: str) -> str:
    """A URL-safe signature of ``message`` for ``purpose``."""
    digest = hmac.new(secret, f"{purpose}\0{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def verify(secret: bytes, purpose: str, message: str, signature: str) -> bool:
    """Whether ``signature`` is :func:`sign`'s for this message (constant time)."""
    return hmac.compare_digest(sign(secret, purpose, message), signature)
