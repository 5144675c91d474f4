"""Signed tokens: asset ids, local-backend file URLs and callback URLs.

Each kind signs under its own purpose (itsdangerous' salt), so a token of one
kind never verifies as another. Keys rotate as Flask's ``SECRET_KEY_FALLBACKS``
do: the current key signs, every key verifies. Tokens issued before version
0.2 (a bare HMAC-SHA256, cut to 20 bytes) still verify; the formats that carry
them tell the two apart by a version prefix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence

from itsdangerous import Signer

#: The purposes, one per token kind.
ASSET_ID = "asset-id"
LOCAL_URL = "local-url"
CALLBACK = "callback"
PLAYBACK = "playback"

#: What :meth:`TokenSigner.sign` makes. Anything else is refused before
#: decoding, since base64 decoding skips stray characters: a signature with
#: junk appended would verify.
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]+")


class TokenSigner:
    """Signs and verifies the messages of one ``purpose``.

    :param keys: the signing keys, oldest first: the last one signs.
    """

    def __init__(self, keys: Sequence[bytes], purpose: str) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._keys = tuple(keys)
        self._purpose = purpose
        self._signer = Signer(
            list(self._keys),
            salt=f"flask-indox-media.{purpose}",
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )
        # itsdangerous derives the key (an HMAC of the salt) at every call:
        # derived once, the MAC is copied per message (the same bytes).
        self._mac = hmac.new(self._signer.derive_key(), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return f"<TokenSigner {self._purpose!r} keys={len(self._keys)}>"

    def sign(self, message: str) -> str:
        """A URL-safe signature of ``message`` (no ``.`` in it): itsdangerous'
        ``Signer.get_signature``, computed from the key derived once."""
        mac = self._mac.copy()
        mac.update(message.encode())
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def verify(self, message: str, signature: str) -> bool:
        """Whether ``signature`` is :meth:`sign`'s under any key. Garbage,
        non-ASCII included, is simply ``False``."""
        if not _SIGNATURE.fullmatch(signature):
            return False
        return self._signer.verify_signature(message.encode(), signature.encode())

    def verify_legacy(self, message: str, signature: str) -> bool:
        """Whether ``signature`` is a pre-0.2 signature of ``message`` under
        any key (compared as bytes, so any input is safe)."""
        given = signature.encode("utf-8", "replace")
        return any(
            hmac.compare_digest(_legacy_signature(key, self._purpose, message), given)
            for key in self._keys
        )


def _legacy_signature(key: bytes, purpose: str, message: str) -> bytes:
    digest = hmac.new(key, f"{purpose}\0{message}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).rstrip(b"=")


def b64encode(text: str) -> str:
    """``text`` as unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def b64decode(body: str) -> str:
    """The text :func:`b64encode` made.

    :raises ValueError: ``body`` is not such base64 of UTF-8 text.
    """
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii") + b"=" * (-len(body) % 4))
        return raw.decode()
    except (UnicodeError, ValueError) as exc:  # binascii.Error is a ValueError
        raise ValueError("not URL-safe base64 of text") from exc
