"""The storage backend interface, and the registry that names backends."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

from werkzeug.utils import import_string

from ..exceptions import ConfigurationError, ObjectNotFoundError

if TYPE_CHECKING:
    from ..config import Settings

#: DeleteObjects takes at most this many keys per request (S3 and R2 alike).
DELETE_BATCH = 1000


@dataclass(frozen=True)
class ObjectInfo:
    """What a backend knows about one stored object."""

    key: str
    size: int
    last_modified: datetime | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class StorageBackend(ABC):
    """Where mirrored assets live.

    Subclasses implement the abstract methods; :meth:`from_config` lets each read
    its own settings. Instances are shared between threads and must be safe for
    that; they are never passed into RQ jobs (jobs take keys and names).

    :param name: the name the app knows this backend by (``r2``, ``s3``...).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    @abstractmethod
    def from_config(cls, settings: Settings, name: str) -> StorageBackend:
        """Build the backend called ``name`` from the app's settings."""

    @abstractmethod
    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Store ``stream`` (read to its end, never wholly in memory) at ``key``.

        :returns: the number of bytes stored.
        :raises StorageError: the backend failed.
        """

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object's bytes; the caller closes it.

        :raises ObjectNotFoundError: there is no such object.
        """

    def open_with_info(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        """:meth:`open` and :meth:`head` together (one request where the backend
        can).

        :raises ObjectNotFoundError: there is no such object.
        """
        info = self.head(key)
        if info is None:
            raise ObjectNotFoundError(f"{self.name}: {key} not found")
        return self.open(key), info

    @abstractmethod
    def presigned_url(
        self,
        key: str,
        *,
        expires_in: int,
        response_content_type: str | None = None,
        response_content_disposition: str | None = None,
        now: datetime | None = None,
    ) -> str:
        """A URL that lets anyone GET the object for ``expires_in`` seconds.

        No request is made: the object need not exist yet.
        """

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's size, type and metadata, or ``None`` if it is absent."""

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def key_from_url(self, url: str) -> str | None:
        """The key of an object if ``url`` is one of this backend's URLs to it
        (presigned or not), else ``None``. The default recognises none."""
        return None

    @abstractmethod
    def list_objects(
        self, prefix: str, *, start_after: str | None = None, page_size: int = 1000
    ) -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` in key order, fetched page by page.

        :param start_after: resume after this key.
        :param page_size: keys per listing request (at most 1,000 on S3 and R2).
        """

    @abstractmethod
    def _delete_batch(self, keys: list[str]) -> None:
        """Delete at most :data:`DELETE_BATCH` keys; absent keys are no error."""

    def delete_many(self, keys: Iterable[str]) -> int:
        """Delete ``keys`` in batches of at most :data:`DELETE_BATCH`.

        :returns: how many keys were sent for deletion.
        """
        count = 0
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                count += len(batch)
                batch = []
        if batch:
            self._delete_batch(batch)
            count += len(batch)
        return count

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many."""
        return self.delete_many(info.key for info in self.list_objects(prefix))


def backend_class(name: str) -> type[StorageBackend]:
    """The class for a short name (``r2``, ``s3``, ``local``) or a dotted path.

    :raises ConfigurationError: the name is unknown or not a backend.
    """
    from .local import LocalBackend
    from .s3 import R2Backend, S3Backend

    registry: dict[str, type[StorageBackend]] = {
        "r2": R2Backend,
        "s3": S3Backend,
        "local": LocalBackend,
    }
    if name in registry:
        return registry[name]
    try:
        cls = import_string(name)
    except ImportError as exc:
        raise ConfigurationError(
            f"INDOX_MEDIA_STORAGE_BACKEND: cannot import {name!r}",
            key="INDOX_MEDIA_STORAGE_BACKEND",
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, StorageBackend)):
        raise ConfigurationError(
            f"INDOX_MEDIA_STORAGE_BACKEND: {name!r} is not a StorageBackend subclass",
            key="INDOX_MEDIA_STORAGE_BACKEND",
        )
    return cls


def create_backend(settings: Settings, name: str) -> StorageBackend:
    """Build the backend ``name`` from ``settings``."""
    return backend_class(name).from_config(settings, name)
