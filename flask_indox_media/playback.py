"""Playback links: a stable URL per asset that needs no headers (an
``<audio src>`` can't send ``Authorization``), signed with the owner and an
expiry, redirecting to a fresh presigned URL.

``<gateway>/play/1.<payload>.<signature>``: the payload holds the owner, the
asset id and the expiry (Unix seconds), signed under its own purpose with the
rotating keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from .assets import Asset, AssetIds
from .exceptions import InvalidTokenError
from .keys import REMEMBERED
from .tokens import PLAYBACK, TokenSigner, b64decode, b64encode

_V1 = "1."


class PlaybackLinks:
    """Issues and reads playback tokens.

    :param ttl: how long a permanent asset's link lives (expiring assets'
        links live until their ``expires_at``).
    """

    def __init__(self, keys: Sequence[bytes], ids: AssetIds, *, ttl: int) -> None:
        self._signer = TokenSigner(keys, PLAYBACK)
        self._ids = ids
        self.ttl = ttl
        # An expiring asset's link is the same at every poll: remembered.
        self._tokens = lru_cache(maxsize=REMEMBERED)(self._sign)

    def token(self, asset: Asset, now: datetime, asset_id: str | None = None) -> str:
        """The token of ``asset``'s link, valid until its ``expires_at``.

        :param asset_id: ``asset``'s id, if the caller has it already.
        """
        until = asset.expires_at or now + timedelta(seconds=self.ttl)
        # json.dumps([user, id, until], separators=(",", ":")), written out:
        # neither a user id nor an asset id has a character JSON escapes.
        asset_id = asset_id or self._ids.encode(asset)
        message = f'["{asset.user_id}","{asset_id}",{int(until.timestamp())}]'
        return self._tokens(message)

    def _sign(self, message: str) -> str:
        return f"{_V1}{b64encode(message)}.{self._signer.sign(message)}"

    def read(self, token: str, now: datetime) -> Asset:
        """The asset a valid, unexpired token names.

        :raises InvalidTokenError: garbled, forged or expired.
        """
        body, _, signature = token.removeprefix(_V1).partition(".")
        try:
            message = b64decode(body)
            user, asset_id, until = json.loads(message)
        except (ValueError, TypeError):
            raise InvalidTokenError("malformed playback token") from None
        if not token.startswith(_V1) or not self._signer.verify(message, signature):
            raise InvalidTokenError("playback token does not verify")
        if not isinstance(until, int) or now.timestamp() >= until:
            raise InvalidTokenError("playback link has expired")
        return self._ids.decode(str(asset_id), str(user))
