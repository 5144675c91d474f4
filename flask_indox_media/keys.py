"""Asset classes, their prefixes and retention, and the object keys built from them.

This module owns the contract of the product brief::

    {prefix}{user_id}/{YYYY}/{MM}/{DD}/{HHMMSS}-{request_id}.{ext}

Every key part is validated before it is joined, so no key can leave its prefix.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from .exceptions import ConfigurationError, InvalidKeyPartError

#: The longest accepted user id.
MAX_USER_ID_LENGTH = 128
#: The longest accepted request id.
MAX_REQUEST_ID_LENGTH = 64

_USER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_EXT_RE = re.compile(r"[a-z0-9]{1,8}")
_PREFIX_RE = re.compile(r"[a-z0-9][a-z0-9._-]*/")
_KEY_TAIL_RE = re.compile(
    r"(?P<user>[^/]+)/(?P<y>[0-9]{4})/(?P<m>[0-9]{2})/(?P<d>[0-9]{2})/"
    r"(?P<t>[0-9]{6})-(?P<rid>[^/.]+)\.(?P<ext>[^/.]+)"
)


@dataclass(frozen=True)
class AssetClass:
    """One class of asset: where its objects live and how long they are kept.

    :param name: the public name (``asset_class`` in responses).
    :param prefix: the key prefix, ending in ``/``.
    :param retention_days: days until deletion, or ``None`` for permanent.
    """

    name: str
    prefix: str
    retention_days: int | None

    @property
    def permanent(self) -> bool:
        return self.retention_days is None

    def expires_at(self, created_at: datetime) -> datetime | None:
        """When an object created at ``created_at`` may be deleted."""
        if self.retention_days is None:
            return None
        return created_at + timedelta(days=self.retention_days)


#: The product brief's table: name -> (prefix, retention in days or None).
DEFAULT_CLASSES: Mapping[str, tuple[str, int | None]] = {
    "tts": ("tts/", 7),
    "audio_jobs": ("audio-jobs/", 7),
    "watermark": ("watermark/", 7),
    "voice_design": ("voice-design/", 14),
    "stt_input": ("stt-input/", 30),
    "uploads": ("uploads/", 30),
    "voice_recordings": ("voice-recordings/", None),
    "voices": ("voices/", None),
}


class AssetClassTable(Mapping[str, AssetClass]):
    """The asset classes in force for one app: the defaults plus overrides."""

    def __init__(
        self,
        prefixes: Mapping[str, str] | None = None,
        retention: Mapping[str, int | None] | None = None,
    ) -> None:
        prefixes = dict(prefixes or {})
        retention = dict(retention or {})
        for key, overrides in (
            ("INDOX_MEDIA_PREFIXES", prefixes),
            ("INDOX_MEDIA_RETENTION", retention),
        ):
            unknown = sorted(set(overrides) - set(DEFAULT_CLASSES))
            if unknown:
                raise ConfigurationError(
                    f"{key} names unknown asset classes {unknown}; "
                    f"known: {sorted(DEFAULT_CLASSES)}",
                    key=key,
                )
        classes: dict[str, AssetClass] = {}
        for name, (prefix, days) in DEFAULT_CLASSES.items():
            prefix = prefixes.get(name, prefix)
            days = retention.get(name, days)
            if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
                raise ConfigurationError(
                    f"INDOX_MEDIA_PREFIXES[{name!r}] must be lower-case letters, "
                    f"digits, '.', '_' or '-' ending in '/', got {prefix!r}",
                    key="INDOX_MEDIA_PREFIXES",
                )
            if days is not None and (
                isinstance(days, bool) or not isinstance(days, int) or days < 1
            ):
                raise ConfigurationError(
                    f"INDOX_MEDIA_RETENTION[{name!r}] must be a whole number of "
                    f"days (>= 1) or None for permanent, got {days!r}",
                    key="INDOX_MEDIA_RETENTION",
                )
            classes[name] = AssetClass(name, prefix, days)
        ordered = sorted(c.prefix for c in classes.values())
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.startswith(a):
                # One prefix inside another would let a lifecycle rule of the
                # outer one expire the inner class's objects.
                raise ConfigurationError(
                    f"INDOX_MEDIA_PREFIXES: {a!r} contains {b!r}; each prefix "
                    "must hold exactly one asset class",
                    key="INDOX_MEDIA_PREFIXES",
                )
        self._classes = classes
        self._parsed = lru_cache(maxsize=REMEMBERED)(self._parse)

    def __getitem__(self, name: str) -> AssetClass:
        return self._classes[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def for_key(self, key: str) -> AssetClass:
        """The class whose prefix holds ``key``.

        :raises InvalidKeyPartError: no class holds it.
        """
        for asset_class in self._classes.values():
            if key.startswith(asset_class.prefix):
                return asset_class
        raise InvalidKeyPartError(f"key {key!r} is under no asset class prefix")

    def parse(self, key: str) -> ParsedKey:
        """Split a key built by :func:`build_key` back into its parts
        (remembered: a poll parses the key of every asset seen before).

        :raises InvalidKeyPartError: ``key`` is not of the contract's shape.
        """
        return self._parsed(key)

    def _parse(self, key: str) -> ParsedKey:
        asset_class = self.for_key(key)
        match = _KEY_TAIL_RE.fullmatch(key[len(asset_class.prefix) :])
        if match is None:
            raise InvalidKeyPartError(f"key {key!r} is not of the contract's shape")
        validate_user_id(match["user"])
        validate_request_id(match["rid"])
        t = match["t"]
        try:
            # What strptime("%Y%m%d%H%M%S") gives for these digits, at a tenth
            # of its cost (a poll parses the key of every asset seen before).
            created_at = datetime(
                int(match["y"]),
                int(match["m"]),
                int(match["d"]),
                int(t[:2]),
                int(t[2:4]),
                int(t[4:]),
                tzinfo=UTC,
            )
        except ValueError as exc:
            raise InvalidKeyPartError(f"key {key!r} has an invalid date") from exc
        return ParsedKey(
            key=key,
            asset_class=asset_class,
            user_id=match["user"],
            created_at=created_at,
            request_id=match["rid"],
            extension=match["ext"],
        )


@dataclass(frozen=True)
class ParsedKey:
    """The parts of an object key."""

    key: str
    asset_class: AssetClass
    user_id: str
    created_at: datetime
    request_id: str
    extension: str

    @property
    def expires_at(self) -> datetime | None:
        return self.asset_class.expires_at(self.created_at)


def _check(value: object, what: str, pattern: re.Pattern[str], limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidKeyPartError(
            f"{what} must be a string, got {type(value).__name__}"
        )
    if not value:
        raise InvalidKeyPartError(f"{what} must not be empty")
    if len(value) > limit:
        raise InvalidKeyPartError(f"{what} is longer than {limit} characters")
    if ".." in value or not pattern.fullmatch(value):
        raise InvalidKeyPartError(
            f"{what} {value!r} has characters outside the allowed set "
            f"({pattern.pattern}, no '..')"
        )
    return value


def validate_user_id(user_id: object) -> str:
    """Return ``user_id`` if it is safe in a key.

    Letters, digits, ``.``, ``_``, ``@`` and ``-``, starting with a letter or
    digit, at most :data:`MAX_USER_ID_LENGTH` characters, never ``..``.

    :raises InvalidKeyPartError: it is not.
    """
    return _check(user_id, "user_id", _USER_ID_RE, MAX_USER_ID_LENGTH)


def validate_request_id(request_id: object) -> str:
    """Return ``request_id`` if it is safe in a key (letters, digits, ``_``, ``-``).

    :raises InvalidKeyPartError: it is not.
    """
    return _check(request_id, "request_id", _REQUEST_ID_RE, MAX_REQUEST_ID_LENGTH)


def validate_extension(extension: object) -> str:
    """Return ``extension`` if it is 1 to 8 lower-case letters or digits.

    :raises InvalidKeyPartError: it is not.
    """
    if not isinstance(extension, str) or not _EXT_RE.fullmatch(extension):
        raise InvalidKeyPartError(
            f"extension {extension!r} must be 1 to 8 lower-case letters or digits"
        )
    return extension


def new_request_id() -> str:
    """A fresh random request id (``req_`` and 20 hex digits)."""
    return "req_" + secrets.token_hex(10)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def build_key(
    asset_class: AssetClass,
    user_id: str,
    extension: str,
    *,
    now: datetime,
    request_id: str | None = None,
) -> str:
    """Build the object key of a new asset.

    :param now: the creation time (aware, any zone; the key uses UTC).
    :param request_id: generated when ``None``.
    :raises InvalidKeyPartError: a part is unsafe.
    """
    return new_key(asset_class, user_id, extension, now=now, request_id=request_id).key


def new_key(
    asset_class: AssetClass,
    user_id: str,
    extension: str,
    *,
    now: datetime,
    request_id: str | None = None,
) -> ParsedKey:
    """:func:`build_key`'s key with its parts, as :meth:`AssetClassTable.parse`
    would split it (without parsing it back).

    :raises InvalidKeyPartError: a part is unsafe.
    """
    validate_user_id(user_id)
    validate_extension(extension)
    request_id = new_request_id() if request_id is None else request_id
    validate_request_id(request_id)
    if now.tzinfo is None:
        raise InvalidKeyPartError("now must be timezone-aware")
    created_at = now.astimezone(UTC).replace(microsecond=0)
    stamp = utc_format(created_at, "%Y/%m/%d/%H%M%S")
    return ParsedKey(
        key=f"{asset_class.prefix}{user_id}/{stamp}-{request_id}.{extension}",
        asset_class=asset_class,
        user_id=user_id,
        created_at=created_at,
        request_id=request_id,
        extension=extension,
    )


def user_prefix(asset_class: AssetClass, user_id: str) -> str:
    """Where every object of ``user_id`` in ``asset_class`` lives.

    :raises InvalidKeyPartError: ``user_id`` is unsafe.
    """
    return f"{asset_class.prefix}{validate_user_id(user_id)}/"


def isoformat_z(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 UTC with a ``Z`` and whole seconds; ``None`` stays."""
    if moment is None:
        return None
    return utc_format(moment, "%Y-%m-%dT%H:%M:%SZ")


#: How many of a kind of value a process remembers for repeat polls (a key's
#: parts, an asset's id, a playback token): a poll of a 100-asset list uses 100.
REMEMBERED = 4096


@lru_cache(maxsize=64)
def utc_format(moment: datetime, pattern: str) -> str:
    """``moment`` (timezone-aware) in UTC, formatted by ``pattern``.

    Remembered: an answer's assets share their creation and signing time,
    and ``strftime`` costs about 5 µs, several times per asset. Equal
    datetimes are the same instant, so their UTC form is one string.
    """
    return moment.astimezone(UTC).strftime(pattern)
