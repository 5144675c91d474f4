"""The exceptions raised by flask-indox-media, all under :class:`IndoxMediaError`."""

from __future__ import annotations


class IndoxMediaError(Exception):
    """Base class of every error this extension raises."""


class ConfigurationError(IndoxMediaError):
    """The app's configuration is missing or invalid.

    :ivar key: the configuration key at fault, when there is one.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InvalidKeyPartError(IndoxMediaError, ValueError):
    """A user id, request id, extension or object key is not acceptable.

    Raised before any storage call, so a bad value never reaches a bucket.
    """


class StorageError(IndoxMediaError):
    """The storage backend failed (outage, permissions, missing bucket...).

    The provider's own exception is chained as ``__cause__``.
    """


class ObjectNotFoundError(StorageError):
    """The object does not exist in the backend."""


class UpstreamError(IndoxMediaError):
    """The Resemble upstream failed or could not be reached.

    :ivar status: the HTTP status the gateway answers with (502 or 504).
    """

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class SourceRejectedError(IndoxMediaError):
    """An asset URL was refused before any byte was fetched (SSRF protection)."""


class AssetTooLargeError(IndoxMediaError):
    """An asset or upload is larger than the configured limit."""


class UnsupportedMediaError(IndoxMediaError):
    """The bytes are not audio (or not a media type allowed here)."""
