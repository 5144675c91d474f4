"""Assets and their ids.

An asset's whole state is its object key (class, user, creation time, request
id, extension) plus the backend that holds it. The asset id encodes that, less
the user, and is signed with the user in the message: a caller's id resolves
only under the caller's own prefix, so another user's id, or a forged one, is
simply not found. Nothing is stored besides the object itself.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from .exceptions import InvalidKeyPartError
from .keys import AssetClassTable, ParsedKey
from .signing import sign, verify

_PURPOSE = "asset-id"


@dataclass(frozen=True)
class Asset:
    """One stored (or about to be stored) asset."""

    parsed: ParsedKey
    backend: str

    @property
    def key(self) -> str:
        return self.parsed.key

    @property
    def user_id(self) -> str:
        return self.parsed.user_id

    @property
    def asset_class(self) -> str:
        return self.parsed.asset_class.name

    @property
    def created_at(self) -> datetime:
        return self.parsed.created_at

    @property
    def expires_at(self) -> datetime | None:
        return self.parsed.expires_at


def _payload(asset: Asset) -> str:
    p = asset.parsed
    stamp = p.created_at.strftime("%Y%m%d%H%M%S")
    return f"{asset.backend}|{p.asset_class.name}|{stamp}|{p.request_id}|{p.extension}"


def encode_asset_id(secret: bytes, asset: Asset) -> str:
    """The public, opaque id of ``asset``."""
    payload = _payload(asset)
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    signature = sign(secret, _PURPOSE, f"{asset.user_id}|{payload}")
    return f"ast_{body}.{signature}"


def decode_asset_id(
    secret: bytes, asset_id: str, user_id: str, classes: AssetClassTable
) -> Asset:
    """The asset ``asset_id`` names for ``user_id``.

    :raises InvalidKeyPartError: the id is garbled, forged, or another user's.
    """
    try:
        body, signature = asset_id.removeprefix("ast_").split(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        backend, class_name, stamp, request_id, ext = payload.split("|")
        asset_class = classes[class_name]
    except (ValueError, KeyError, binascii.Error, UnicodeDecodeError):
        raise InvalidKeyPartError("malformed asset id") from None
    if not asset_id.startswith("ast_") or not verify(
        secret, _PURPOSE, f"{user_id}|{payload}", signature
    ):
        raise InvalidKeyPartError("asset id does not verify")
    s = stamp
    key = (
        f"{asset_class.prefix}{user_id}/{s[0:4]}/{s[4:6]}/{s[6:8]}/"
        f"{s[8:14]}-{request_id}.{ext}"
    )
    return Asset(classes.parse(key), backend)
