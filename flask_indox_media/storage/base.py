"""The storage backend interface, the bucket-rules protocol, and copying
between backends. Nothing here knows of Flask."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, runtime_checkable

from ..exceptions import ObjectNotFoundError
from .writers import ObjectWriter, SpooledWriter

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
    #: The stored ``Content-Disposition`` (``None``: none, or not known here).
    content_disposition: str | None = None
    #: The stored ``Cache-Control`` (``None``: none, or not known here).
    cache_control: str | None = None


class StorageBackend(ABC):
    """Where mirrored assets live.

    Subclasses implement the abstract methods; :meth:`from_config` lets each read
    its own settings. Instances are shared between threads and must be safe for
    that; they are never passed into RQ jobs (jobs take keys and names).

    :param name: the name the app knows this backend by (``r2``, ``s3``...).
    :cvar config_defaults: the configuration keys this backend reads, with
        their defaults (``INDOX_MEDIA_<NAME>_*`` by convention); the extension
        sets them on ``app.config`` and refuses unknown ``INDOX_MEDIA_*`` keys.
    """

    config_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    @abstractmethod
    def from_config(
        cls, config: Mapping[str, Any], name: str, settings: Settings
    ) -> StorageBackend:
        """Build the backend called ``name`` from the app's config (its own
        keys, defaulted) and the core settings (signing keys, public URL...).

        :raises ConfigurationError: naming the key at fault.
        """

    @classmethod
    def configured_by(cls, config: Mapping[str, Any]) -> str | None:
        """The key that sets this backend up in ``config`` even when it is not
        the write backend (so links to its objects keep resolving after a
        rollback, and it is the default when it is the only one), or ``None``.
        The default: never."""
        return None

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> None:
        """Refuse a configuration of this backend that can never be right,
        whether or not the backend is in use. The default accepts any."""
        return None

    @abstractmethod
    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> int:
        """Store ``stream`` (read to its end, never wholly in memory) at ``key``.

        :param content_disposition: the ``Content-Disposition`` every GET of the
            object answers with (a presigned URL's
            ``response_content_disposition`` overrides it); ``None``: none.
        :param cache_control: the ``Cache-Control`` every GET answers with;
            ``None``: none.
        :param if_absent: write only if ``key`` holds no object, as one atomic
            step where the backend can (S3's ``If-None-Match: *``), so the
            write is its own existence check: no HEAD before it, and of two
            concurrent writers one wins.
        :returns: the number of bytes stored.
        :raises ObjectExistsError: ``if_absent`` and ``key`` is taken; nothing
            was written.
        :raises StorageError: the backend failed.
        """

    def open_writer(
        self,
        key: str,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        content_disposition: str | None = None,
        cache_control: str | None = None,
    ) -> ObjectWriter:
        """A writer that stores ``key`` chunk by chunk as the bytes arrive
        (see :class:`~flask_indox_media.storage.writers.ObjectWriter`): the
        object appears on ``commit()``, whole, or never.

        The default spools to a temporary file and calls :meth:`put` on
        commit, so a backend without a streaming upload of its own still
        works; override it to send the bytes as they come.

        .. versionadded:: 0.1
        """
        return SpooledWriter(
            self.put,
            key,
            content_type=content_type,
            metadata=metadata,
            content_disposition=content_disposition,
            cache_control=cache_control,
        )

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

    def warm(self) -> None:
        """Do now, in a worker's parent process, the costly set-up every forked
        work horse would otherwise repeat (S3: loading botocore's models).
        The default: nothing."""
        return None

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


@runtime_checkable
class BucketRules(Protocol):
    """A backend whose bucket has lifecycle and CORS rules and can be checked
    (S3 and R2). Callers test ``isinstance(backend, BucketRules)``."""

    bucket: str

    def lifecycle_rules(self) -> list[dict[str, Any]]: ...

    def put_lifecycle_rules(self, rules: list[dict[str, Any]]) -> None: ...

    def cors_rules(self) -> list[dict[str, Any]]: ...

    def put_cors_rules(self, rules: list[dict[str, Any]]) -> None: ...

    def check_bucket(self) -> None: ...


def copy_object(
    source: StorageBackend, target: StorageBackend, key: str, *, check: bool = True
) -> bool:
    """Copy ``key`` (streaming; type, download headers and metadata kept) unless the target has
    it (``check=False``: the caller knows it has not). Returns whether it was
    copied."""
    if check and target.exists(key):
        return False
    try:
        stream, info = source.open_with_info(key)
    except ObjectNotFoundError:
        return False  # deleted since it was listed
    with stream:
        target.put(
            key,
            stream,
            content_type=info.content_type or "application/octet-stream",
            metadata=info.metadata,
            content_disposition=info.content_disposition,
            cache_control=info.cache_control,
        )
    return True
