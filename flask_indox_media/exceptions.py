"""The exceptions raised by flask-indox-media, all under :class:`IndoxMediaError`.

Each carries the HTTP status a gateway client gets when it escapes a route, and
what that client is told (:meth:`IndoxMediaError.public`): one handler
(:mod:`flask_indox_media.web.errors`) turns any of them into flask-smorest's
error body, so no route builds an error response of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class IndoxMediaError(Exception):
    """Base class of every error this extension raises.

    :cvar status: the HTTP status a client gets for it.
    """

    status = 500

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        """The message and field errors a client may see (never a secret, a
        bucket name or a presigned query)."""
        return str(self), None


class ConfigurationError(IndoxMediaError):
    """The app's configuration is missing or invalid.

    :ivar key: the configuration key at fault, when there is one.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class NoAppError(ConfigurationError):
    """A job needs the Flask app and the worker has none: it was started by a
    plain ``rq worker`` without ``FLASK_APP``. Raised in the job, which is then
    failed for good rather than retried (a retry would meet the same worker)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, key="FLASK_APP")


class RequestError(IndoxMediaError):
    """A request the gateway refuses: not authenticated, no such asset,
    malformed input...

    :param status: 400, 401, 403, 404, 413, 415 or 422.
    :param errors: per-field details, as webargs gives them.
    """

    def __init__(
        self, status: int, message: str, *, errors: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        return str(self), self.errors


class InvalidKeyPartError(IndoxMediaError, ValueError):
    """A user id, request id, extension or object key is not acceptable.

    Raised before any storage call, so a bad value never reaches a bucket.
    """

    status = 422


class InvalidTokenError(IndoxMediaError, ValueError):
    """A signed token (asset id, local file URL, callback URL) is garbled,
    forged, or not the caller's: to a client, simply not found."""

    status = 404

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        return "not found", None


class StorageError(IndoxMediaError):
    """The storage backend failed (outage, permissions, missing bucket...).

    The provider's own exception is chained as ``__cause__``.
    """

    status = 502

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        return "the media storage is unavailable", None


class ObjectNotFoundError(StorageError):
    """The object does not exist in the backend."""

    status = 404

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        return "no such object", None


class ObjectExistsError(StorageError):
    """A conditional write (``put(..., if_absent=True)``) found the key taken:
    nothing was written, and the object there is left as it was. For a mirror
    this is the expected answer to a repeat, not a failure.
    """

    status = 409

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        return "the object already exists", None


class QueueError(IndoxMediaError):
    """The job queue (Redis) could not be reached or refused a command.

    redis-py's exception is chained as ``__cause__``.
    """

    status = 502

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        return "the job queue is unavailable", None


class UpstreamError(IndoxMediaError):
    """The Resemble upstream failed or could not be reached.

    :ivar status: the HTTP status the gateway answers with (502 or 504).
    """

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class SourceRejectedError(IndoxMediaError):
    """An asset URL was refused before any byte was fetched (SSRF protection)."""

    status = 422

    def public(self) -> tuple[str, Mapping[str, Any] | None]:
        return "audio_url is not an allowed source", {"audio_url": [str(self)]}


class AssetTooLargeError(IndoxMediaError):
    """An asset or upload is larger than the configured limit."""

    status = 413


class UnsupportedMediaError(IndoxMediaError):
    """The bytes are not audio (or not a media type allowed here)."""

    status = 415
