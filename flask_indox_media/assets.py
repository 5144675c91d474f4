"""Assets, their ids, and their one public representation.

An asset's whole state is its object key (class, user, creation time, request
id, extension) plus the backend that holds it. The asset id encodes that, less
the user, and is signed with the user in the message: a caller's id resolves
only under the caller's own prefix, so another user's id, or a forged one, is
simply not found. Nothing is stored besides the object itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from marshmallow import INCLUDE, Schema, fields

from .exceptions import InvalidKeyPartError, InvalidTokenError
from .keys import (
    REMEMBERED,
    AssetClassTable,
    ParsedKey,
    build_key,
    isoformat_z,
    utc_format,
)
from .tokens import ASSET_ID, TokenSigner, b64decode, b64encode

#: ``mirror_status``: this answer arranged the mirror (a job will store it).
SCHEDULED = "scheduled"
#: ``mirror_status``: the object is stored.
MIRRORED = "mirrored"
#: ``mirror_status``: a job from an earlier answer is queued, running or retrying.
PENDING = "pending"
#: ``mirror_status``: the mirror failed for good (no retry helps): no ``audio_url``.
FAILED = "failed"
#: ``mirror_status``: the mirror could not be arranged now (Redis, or Redis
#: and storage, unreachable): no ``audio_url``; a later poll arranges it.
UNMIRRORED = "unmirrored"
#: ``mirror_status`` values whose asset has an ``audio_url``.
LINKED = frozenset({SCHEDULED, MIRRORED, PENDING})

#: Ids start with this; what follows tells the format apart.
ID_PREFIX = "ast_"
_V1 = "1."


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

    @property
    def file_name(self) -> str:
        """A clean name for a download: class, creation time, extension."""
        stamp = self.created_at.strftime("%Y%m%d-%H%M%S")
        return f"{self.asset_class.replace('_', '-')}-{stamp}.{self.parsed.extension}"

    @property
    def digest(self) -> str:
        """A short stable name of (backend, key), for job ids (hex digits)."""
        return hashlib.sha256(f"{self.backend}|{self.key}".encode()).hexdigest()[:40]


class AssetIds:
    """Encodes assets as opaque ids and resolves them back, for one user.

    ``ast_1.<payload>.<signature>`` since 0.2 (itsdangerous, rotating keys);
    ``ast_<payload>.<signature>`` before, still resolved.

    :param keys: signing keys, oldest first.
    """

    def __init__(self, keys: Sequence[bytes], classes: AssetClassTable) -> None:
        self._signer = TokenSigner(keys, ASSET_ID)
        self._classes = classes
        self._ids = lru_cache(maxsize=REMEMBERED)(self._encode)

    def encode(self, asset: Asset) -> str:
        """The public, opaque id of ``asset`` (remembered: every poll of an
        asset shows it)."""
        return self._ids(asset)

    def _encode(self, asset: Asset) -> str:
        p = asset.parsed
        stamp = utc_format(p.created_at, "%Y%m%d%H%M%S")
        payload = b64encode(
            f"{asset.backend}|{p.asset_class.name}|{stamp}|{p.request_id}|{p.extension}"
        )
        signature = self._signer.sign(f"{asset.user_id}|{payload}")
        return f"{ID_PREFIX}{_V1}{payload}.{signature}"

    def decode(self, asset_id: str, user_id: str) -> Asset:
        """The asset ``asset_id`` names for ``user_id``.

        :raises InvalidTokenError: the id is garbled, forged, or another user's.
        """
        if not asset_id.startswith(ID_PREFIX):
            raise InvalidTokenError("not an asset id")
        body = asset_id[len(ID_PREFIX) :]
        legacy = not body.startswith(_V1)
        payload, _, signature = body.removeprefix(_V1).partition(".")
        message = f"{user_id}|{payload}"
        if legacy:
            # Before 0.2 the base64 payload itself was signed, decoded.
            try:
                message = f"{user_id}|{b64decode(payload)}"
            except ValueError:
                raise InvalidTokenError("malformed asset id") from None
        verify = self._signer.verify_legacy if legacy else self._signer.verify
        if not verify(message, signature):
            raise InvalidTokenError("asset id does not verify")
        return self._asset(payload, user_id)

    def _asset(self, payload: str, user_id: str) -> Asset:
        try:
            backend, class_name, stamp, request_id, ext = b64decode(payload).split("|")
            created = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            asset_class = self._classes[class_name]
            key = build_key(
                asset_class, user_id, ext, now=created, request_id=request_id
            )
            return Asset(self._classes.parse(key), backend)
        except (ValueError, KeyError, InvalidKeyPartError):
            # Signed by us, yet not parseable here: a class or prefix since renamed.
            raise InvalidTokenError("the asset id names no current asset") from None


def _utc(value: Any) -> Any:
    return value if isinstance(value, str) else isoformat_z(value)


class _UTC(fields.Field[Any]):
    """An aware datetime as ISO 8601 UTC with a ``Z`` and whole seconds (a
    string passes as it is: routes return what the catalog already dumped)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return _utc(value)


#: How the OpenAPI document shows a :class:`_UTC` field.
_DATE_TIME = {"type": "string", "format": "date-time"}


class AssetSchema(Schema):
    """The fields of an asset, wherever one appears: next to the audio in a
    proxied response, in the media API, an upload's answer, a callback and a
    user's export. Each place fills the fields it knows."""

    class Meta:
        # Documented as a part (allOf) of Resemble's bodies, which carry more;
        # it only ever dumps, so nothing is loaded through this.
        unknown = INCLUDE

    asset_id = fields.String(
        metadata={"description": "Opaque id of the caller's asset"}
    )
    asset_class = fields.String(metadata={"description": "tts, voices, uploads..."})
    audio_url = fields.String(
        allow_none=True,
        metadata={
            "description": "Presigned URL of the object, valid INDOX_MEDIA_PRESIGN_TTL "
            "(1 hour); null when mirror_status is unmirrored or failed (use "
            "resemble_url then)"
        },
    )
    mirror_status = fields.String(
        metadata={
            "description": "Proxied answers: where the copy in the bucket stands. "
            "scheduled: this answer arranged it (in the bucket within 2 minutes "
            "of any fault clearing); pending: arranged by an earlier answer, "
            "still on its way; mirrored: stored; failed: the source can never "
            "be copied (audio_url null); unmirrored: could not be arranged now "
            "(Redis unreachable; audio_url null; poll again later)",
            "enum": [SCHEDULED, PENDING, MIRRORED, FAILED, UNMIRRORED],
        }
    )
    expires_at = _UTC(
        allow_none=True,
        metadata={
            "description": "When the object is deleted (ISO 8601 UTC); null: permanent",
            **_DATE_TIME,
        },
    )
    resemble_url = fields.String(
        allow_none=True,
        metadata={
            "description": "The original Resemble URL; null where the audio was inline"
        },
    )
    playback_url = fields.String(
        allow_none=True,
        metadata={
            "description": "A stable link that needs no headers (for <audio src>): "
            "redirects to a fresh presigned URL until expires_at (permanent "
            "assets: INDOX_MEDIA_PLAYBACK_TTL); add ?download=1 for an attachment"
        },
    )
    key = fields.String(metadata={"description": "The object key"})
    status = fields.String(metadata={"description": "pending, mirrored or failed"})
    size_bytes = fields.Integer(allow_none=True)
    content_type = fields.String(allow_none=True)
    created_at = _UTC(metadata=_DATE_TIME)
    backend = fields.String(
        metadata={"description": "Where the object is (export only)"}
    )
    url = fields.String(metadata={"description": "Uploads: the same as audio_url"})
    file_name = fields.String(
        metadata={"description": "Uploads: the cleaned file name"}
    )
    extension = fields.String(
        metadata={"description": "Uploads: from the sniffed type"}
    )
    file_type = fields.String(
        metadata={"description": "Uploads: audio, video or image"}
    )


#: Dumps plain dicts (a field absent from the dict is left out).
ASSET_SCHEMA = AssetSchema()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


_CONVERTERS: dict[type[fields.Field[Any]], Callable[[Any], Any]] = {
    fields.String: _text,
    fields.Integer: _integer,
    _UTC: _utc,
}
#: Each of the schema's fields, in its order, with what dumping it does.
_DUMPED = tuple(
    (name, _CONVERTERS[type(field)]) for name, field in ASSET_SCHEMA.dump_fields.items()
)


def dump_asset(values: Mapping[str, Any]) -> dict[str, Any]:
    """``ASSET_SCHEMA.dump(values)``, without marshmallow's per-field
    machinery (the response hook dumps one per asset): the same dict, the same
    order (tests/test_catalog.py holds the two equal)."""
    return {name: convert(values[name]) for name, convert in _DUMPED if name in values}
