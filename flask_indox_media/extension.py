"""The :class:`IndoxMedia` extension and its per-app state."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, BinaryIO

from flask import Flask, current_app
from flask_smorest import Api

from . import metrics
from .assets import Asset, decode_asset_id, encode_asset_id
from .config import Settings, apply_defaults, load_settings
from .exceptions import InvalidKeyPartError, ObjectNotFoundError
from .keys import build_key, isoformat_z, utcnow
from .storage.base import ObjectInfo, StorageBackend, create_backend
from .storage.local import serve_blueprint

logger = logging.getLogger("flask_indox_media")
logger.addHandler(logging.NullHandler())

EXTENSION_KEY = "indox_media"


class IndoxMediaState:
    """Everything the extension keeps for one app, at
    ``app.extensions["indox_media"]``.

    :ivar settings: the frozen :class:`~flask_indox_media.config.Settings`.
    :ivar backends: every configured backend by name.
    :ivar clock: returns the current aware UTC time; tests replace it.
    """

    def __init__(
        self,
        extension: IndoxMedia,
        settings: Settings,
        backends: Mapping[str, StorageBackend],
    ) -> None:
        from .mirror import MirrorService
        from .upstream import UpstreamClient

        self.extension = extension
        self.settings = settings
        self.backends = dict(backends)
        self.clock = extension.clock
        self.upstream = UpstreamClient(settings)
        self.mirror = MirrorService(self)

    def current_user(self) -> str | None:
        """The caller's user id from the identity loader, or ``None``."""
        loader = self.extension.identity_loader_callback
        return loader() if loader is not None else None

    def __repr__(self) -> str:
        return f"<IndoxMediaState backend={self.settings.storage_backend!r}>"

    @property
    def primary(self) -> StorageBackend:
        """The backend new assets are written to."""
        return self.backends[self.settings.storage_backend]

    def new_asset(
        self,
        asset_class: str,
        user_id: str,
        extension: str,
        *,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> Asset:
        """Fix the key of a new asset on the primary backend (nothing is written).

        :raises InvalidKeyPartError: a part is unsafe.
        """
        classes = self.settings.classes
        key = build_key(
            classes[asset_class],
            user_id,
            extension,
            now=now or self.clock(),
            request_id=request_id,
        )
        return Asset(classes.parse(key), self.settings.storage_backend)

    def store(
        self,
        asset_class: str,
        user_id: str,
        stream: BinaryIO,
        *,
        content_type: str,
        extension: str,
        request_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[Asset, int]:
        """Write a new asset to the primary backend.

        :returns: the asset and its size in bytes.
        :raises InvalidKeyPartError: before any storage call, for a bad part.
        :raises StorageError: the backend failed.
        """
        asset = self.new_asset(asset_class, user_id, extension, request_id=request_id)
        meta = {
            "user-id": user_id,
            "asset-class": asset_class,
            "request-id": asset.parsed.request_id,
        }
        meta.update(metadata or {})
        size = self.primary.put(
            asset.key, stream, content_type=content_type, metadata=meta
        )
        self.mirror.replicate_later(asset)
        return asset, size

    def asset_id(self, asset: Asset) -> str:
        return encode_asset_id(self.settings.signing_key, asset)

    def resolve(self, asset_id: str, user_id: str) -> Asset:
        """The caller's asset named by ``asset_id``.

        :raises InvalidKeyPartError: garbled, forged or another user's id.
        """
        asset = decode_asset_id(
            self.settings.signing_key, asset_id, user_id, self.settings.classes
        )
        if asset.backend not in self.backends:
            raise InvalidKeyPartError("asset id names a backend that is not configured")
        return asset

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

    def presign(self, asset: Asset, backend: StorageBackend | None = None) -> str:
        """A fresh presigned URL of ``asset``, valid ``INDOX_MEDIA_PRESIGN_TTL``."""
        backend = backend or self.backends[asset.backend]
        return backend.presigned_url(
            asset.key, expires_in=self.settings.presign_ttl, now=self.clock()
        )

    def describe(
        self,
        asset: Asset,
        *,
        resemble_url: str | None = None,
        backend: StorageBackend | None = None,
    ) -> dict[str, Any]:
        """The fields every response carries next to an asset.

        :param backend: the backend to presign from (default: the asset's).
        """
        return {
            "asset_id": self.asset_id(asset),
            "asset_class": asset.asset_class,
            "audio_url": self.presign(asset, backend),
            "expires_at": isoformat_z(asset.expires_at),
            "resemble_url": resemble_url,
        }

    def open(self, asset: Asset) -> BinaryIO:
        """The asset's bytes from whichever backend holds them.

        :raises ObjectNotFoundError: no backend holds them.
        """
        found = self.locate(asset)
        if found is None:
            raise ObjectNotFoundError(f"{asset.key} is in no configured backend")
        return found[0].open(asset.key)


class IndoxMedia:
    """The Flask extension.

    :param app: the app to register with now, or ``None`` to call
        :meth:`init_app` later.
    :param api: the host's flask-smorest ``Api`` to register the gateway
        blueprint with (initialized first). Without one, an ``Api`` is created on
        the app, with ``API_TITLE``, ``API_VERSION`` and ``OPENAPI_VERSION``
        defaulted.
    :param clock: returns the current aware UTC time (for tests).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        api: Api | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.api = api
        self.clock = clock
        self.identity_loader_callback: Callable[[], str | None] | None = None
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return "<IndoxMedia>"

    def init_app(self, app: Flask) -> None:
        """Read and validate the configuration, build the backends, and register
        the routes and commands.

        :raises RuntimeError: the extension is already registered on ``app``.
        :raises ConfigurationError: a key is missing or invalid (it is named).
        """
        from .blueprint import bp as gateway_blueprint
        from .cli import cli

        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "IndoxMedia is already registered on this app; create one IndoxMedia "
                "per app, or call init_app once."
            )
        apply_defaults(app.config)
        # Validated here, not lazily, so a bad setting fails at start-up rather
        # than at the first request.
        settings = load_settings(app.config, instance_path=app.instance_path)
        backends = {
            name: create_backend(settings, name)
            for name in settings.configured_backends
        }
        state = IndoxMediaState(self, settings, backends)
        app.extensions[EXTENSION_KEY] = state
        if "local" in backends:
            app.register_blueprint(
                serve_blueprint(), url_prefix=settings.local_url_prefix
            )
        api = self.api
        if api is None:
            app.config.setdefault("API_TITLE", "Resemble gateway")
            app.config.setdefault("API_VERSION", "v1")
            app.config.setdefault("OPENAPI_VERSION", "3.0.3")
            api = Api(app)
        api.register_blueprint(gateway_blueprint, url_prefix=settings.url_prefix)
        app.cli.add_command(cli)
        metrics.install()
        logger.info(
            "indox-media: storage backend %s (configured: %s)",
            settings.storage_backend,
            ", ".join(backends),
        )

    def identity_loader(
        self, callback: Callable[[], str | None]
    ) -> Callable[[], str | None]:
        """Register the function that returns the caller's user id (or ``None``)
        from the current request, as Flask-Login's ``user_loader``. Without one,
        every gateway route answers 401."""
        self.identity_loader_callback = callback
        return callback

    @property
    def state(self) -> IndoxMediaState:
        """The current app's state.

        :raises RuntimeError: outside an app context, or before :meth:`init_app`.
        """
        try:
            state: IndoxMediaState = current_app.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError(
                "IndoxMedia is not registered on the current app: call "
                "media.init_app(app) first."
            ) from None
        return state
