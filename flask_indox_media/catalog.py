"""The asset catalog: where an asset's object is, how it is written, read,
presigned, described, listed per user and deleted, across every configured
backend. It knows storage and keys, not HTTP and not mirroring."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from .assets import Asset, AssetIds, dump_asset
from .exceptions import InvalidKeyPartError, InvalidTokenError, ObjectNotFoundError
from .keys import AssetClass, AssetClassTable, new_key, user_prefix
from .media_types import from_extension
from .playback import PlaybackLinks
from .storage.base import ObjectInfo, StorageBackend
from .storage.writers import ObjectWriter


def _metadata(asset: Asset, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The metadata every object carries (user, class, request id), plus ``extra``."""
    return {
        "user-id": asset.user_id,
        "asset-class": asset.asset_class,
        "request-id": asset.parsed.request_id,
        **(extra or {}),
    }


#: Every asset object's ``Cache-Control``. Keys are never rewritten, so the
#: bytes at one are immutable; ``private`` because a presigned URL is a bearer
#: link: a shared cache (a CDN, a proxy) must not keep a copy that outlives
#: the URL's expiry or the object's deletion, nor serve it to someone else.
CACHE_CONTROL = "private, max-age=31536000, immutable"


def inline_disposition(asset: Asset) -> str:
    """The ``Content-Disposition`` an asset's object is stored with: shown in
    place, saved under :attr:`Asset.file_name` (ASCII by construction)."""
    return f'inline; filename="{asset.file_name}"'


@dataclass(frozen=True)
class UserObject:
    """One object under a user's prefix; ``asset`` is ``None`` when its key is
    not one this extension wrote (it is still the user's, for erasure)."""

    backend: str
    asset_class: AssetClass
    info: ObjectInfo
    asset: Asset | None


class AssetCatalog:
    """The assets of one app.

    :param backends: every configured backend by name, the write backend first.
    :param primary: the name of the backend new assets are written to, or a
        function that returns it (a :class:`~flask_indox_media.write_backend.WriteBackend`:
        an operator can switch it at runtime).
    :param clock: returns the current aware UTC time.
    :param playback: issues playback links, or ``None`` for none.
    :ivar link_base: returns the gateway's absolute base URL (``None`` outside
        a request without ``INDOX_MEDIA_PUBLIC_URL``: then no playback link).
    :ivar request_ids: returns the request id of a new asset when
        :meth:`new` is given none (the gateway's: from the caller's
        ``X-Request-ID``), or ``None`` for a fresh random one.
    """

    def __init__(
        self,
        backends: Mapping[str, StorageBackend],
        primary: str | Callable[[], str],
        classes: AssetClassTable,
        ids: AssetIds,
        *,
        presign_ttl: int,
        clock: Callable[[], datetime],
        playback: PlaybackLinks | None = None,
    ) -> None:
        self.backends = dict(backends)
        self._primary = primary if callable(primary) else lambda: primary
        self.classes = classes
        self.ids = ids
        self.presign_ttl = presign_ttl
        self.clock = clock
        self.playback = playback
        self.link_base: Callable[[], str | None] = lambda: None
        self.request_ids: Callable[[], str | None] = lambda: None

    def __repr__(self) -> str:
        return f"<AssetCatalog primary={self.primary_name!r} backends={list(self.backends)}>"

    @property
    def primary_name(self) -> str:
        """The name of the backend new assets are written to, now."""
        return self._primary()

    @property
    def primary(self) -> StorageBackend:
        """The backend new assets are written to."""
        return self.backends[self.primary_name]

    def new(
        self,
        asset_class: str,
        user_id: str,
        extension: str,
        *,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> Asset:
        """Fix the key of a new asset on the primary backend (nothing is written).

        :param request_id: the key's request id; default: :attr:`request_ids`'s.
        :raises InvalidKeyPartError: a part is unsafe.
        """
        parsed = new_key(
            self.classes[asset_class],
            user_id,
            extension,
            now=now or self.clock(),
            request_id=request_id if request_id is not None else self.request_ids(),
        )
        return Asset(parsed, self.primary_name)

    def write(
        self,
        asset: Asset,
        stream: BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> int:
        """Write ``asset``'s object on its backend, with the metadata every
        object carries (user, class, request id) plus ``metadata``, and its
        download headers (:func:`inline_disposition`, :data:`CACHE_CONTROL`).

        :param if_absent: only if there is no object yet (see
            :meth:`StorageBackend.put <flask_indox_media.StorageBackend.put>`).
        :returns: its size in bytes.
        :raises ObjectExistsError: ``if_absent`` and the object exists.
        :raises StorageError: the backend failed.
        """
        return self.backends[asset.backend].put(
            asset.key,
            stream,
            content_type=content_type,
            metadata=_metadata(asset, metadata),
            if_absent=if_absent,
            content_disposition=inline_disposition(asset),
            cache_control=CACHE_CONTROL,
        )

    def open_writer(
        self,
        asset: Asset,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectWriter:
        """A streaming writer of ``asset``'s object on its backend, with the
        metadata :meth:`write` gives (see
        :meth:`StorageBackend.open_writer <flask_indox_media.StorageBackend.open_writer>`).

        :raises StorageError: the backend failed.
        """
        return self.backends[asset.backend].open_writer(
            asset.key,
            content_type=content_type,
            metadata=_metadata(asset, metadata),
            content_disposition=inline_disposition(asset),
            cache_control=CACHE_CONTROL,
        )

    def store(
        self,
        asset_class: str,
        user_id: str,
        stream: BinaryIO,
        *,
        content_type: str,
        extension: str,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[Asset, int]:
        """Write a new asset to the primary backend.

        :returns: the asset and its size in bytes.
        :raises InvalidKeyPartError: before any storage call, for a bad part.
        :raises StorageError: the backend failed.
        """
        asset = self.new(asset_class, user_id, extension)
        return asset, self.write(
            asset, stream, content_type=content_type, metadata=metadata
        )

    def warm(self) -> None:
        """Set every backend up now (a worker calls this before it forks)."""
        for backend in self.backends.values():
            backend.warm()

    def asset_id(self, asset: Asset) -> str:
        return self.ids.encode(asset)

    def resolve(self, asset_id: str, user_id: str) -> Asset:
        """The caller's asset named by ``asset_id``.

        :raises InvalidTokenError: garbled, forged or another user's id.
        """
        asset = self.ids.decode(asset_id, user_id)
        if asset.backend not in self.backends:
            raise InvalidTokenError("asset id names a backend that is not configured")
        return asset

    def from_key(self, backend: str, key: str) -> Asset:
        """The asset stored at ``key``.

        :raises InvalidKeyPartError: not a key of the contract's shape.
        """
        return Asset(self.classes.parse(key), backend)

    def locate(self, asset: Asset) -> tuple[StorageBackend, ObjectInfo] | None:
        """The backend that holds ``asset`` and what it says of it: the one the
        asset was written to first, then every other configured backend (after
        a rollback or a backfill the object may live elsewhere)."""
        names = [asset.backend, *(n for n in self.backends if n != asset.backend)]
        for name in names:
            info = self.backends[name].head(asset.key)
            if info is not None:
                return self.backends[name], info
        return None

    def presign(
        self,
        asset: Asset,
        backend: StorageBackend | None = None,
        *,
        disposition: str | None = None,
        now: datetime | None = None,
    ) -> str:
        """A fresh presigned URL of ``asset``, valid ``INDOX_MEDIA_PRESIGN_TTL``.

        :param disposition: the ``Content-Disposition`` the URL answers with.
        :param now: the current time, if the caller has it already.
        """
        backend = backend or self.backends[asset.backend]
        return backend.presigned_url(
            asset.key,
            expires_in=self.presign_ttl,
            response_content_disposition=disposition,
            now=now or self.clock(),
        )

    def playback_url(
        self, asset: Asset, asset_id: str | None = None, now: datetime | None = None
    ) -> str | None:
        """``asset``'s stable, header-free link, or ``None`` when no base URL
        is known here.

        :param asset_id: ``asset``'s id, if the caller has it already.
        :param now: the current time, likewise.
        """
        base = self.link_base()
        if base is None or self.playback is None:
            return None
        token = self.playback.token(asset, now or self.clock(), asset_id)
        return f"{base}/play/{token}"

    def open(self, asset: Asset) -> BinaryIO:
        """The asset's bytes from whichever backend holds them.

        :raises ObjectNotFoundError: no backend holds them.
        """
        found = self.locate(asset)
        if found is None:
            raise ObjectNotFoundError(f"{asset.key} is in no configured backend")
        return found[0].open(asset.key)

    def describe(
        self,
        asset: Asset,
        *,
        resemble_url: str | None = None,
        presign_from: StorageBackend | None = None,
        now: datetime | None = None,
        **details: Any,
    ) -> dict[str, Any]:
        """The asset's public fields (:class:`~flask_indox_media.assets.AssetSchema`)
        with a fresh ``audio_url``; ``details`` adds any other of its fields.

        :param presign_from: the backend to presign from (default: the asset's).
        :param now: the current time, if the caller has it already (one for
            every asset of an answer).
        """
        asset_id = self.asset_id(asset)
        now = now or self.clock()
        return dump_asset(
            {
                "asset_id": asset_id,
                "asset_class": asset.asset_class,
                "audio_url": self.presign(asset, presign_from, now=now),
                "expires_at": asset.expires_at,
                "resemble_url": resemble_url,
                "playback_url": self.playback_url(asset, asset_id, now),
                **details,
            }
        )

    def describe_stored(
        self, asset: Asset, holder: StorageBackend, info: ObjectInfo, **details: Any
    ) -> dict[str, Any]:
        """:meth:`describe` of an object that exists, with what its backend says
        (a listing says less than a HEAD: the type then comes from the key)."""
        known = from_extension(asset.parsed.extension)
        return self.describe(
            asset,
            resemble_url=info.metadata.get("source-url"),
            presign_from=holder,
            key=asset.key,
            status="mirrored",
            size_bytes=info.size,
            content_type=info.content_type or (known and known.content_type),
            created_at=asset.created_at,
            **details,
        )

    def delete(self, asset: Asset) -> None:
        """Delete the asset's object on every configured backend."""
        for backend in self.backends.values():
            backend.delete(asset.key)

    def iter_user_assets(
        self,
        user_id: str,
        *,
        classes: Iterable[AssetClass] | None = None,
        backends: Iterable[str] | None = None,
    ) -> Iterator[UserObject]:
        """Every object under ``user_id``'s prefixes, backend by backend (the
        write backend first, or those named), class by class, in key order.

        :raises InvalidKeyPartError: ``user_id`` is unsafe.
        """
        wanted = list(self.classes.values() if classes is None else classes)
        prefixes = [(c, user_prefix(c, user_id)) for c in wanted]
        for name in self.backends if backends is None else backends:
            backend = self.backends[name]
            for asset_class, prefix in prefixes:
                for info in backend.list_objects(prefix):
                    try:
                        asset: Asset | None = self.from_key(name, info.key)
                    except InvalidKeyPartError:
                        asset = None
                    yield UserObject(name, asset_class, info, asset)
