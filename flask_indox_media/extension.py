"""The :class:`IndoxMedia` extension: ``init_app`` wiring, nothing else."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from flask_smorest import Api

from . import metrics
from .cli import cli
from .config import (
    DEFAULTS,
    Settings,
    apply_defaults,
    default_backend,
    load_settings,
    named_backends,
)
from .keys import utcnow
from .state import EXTENSION_KEY, IndoxMediaState, current_state
from .storage.local import LocalBackend
from .storage.registry import (
    backend_classes,
    config_defaults,
    configured,
    create_backends,
)
from .web import health, local_files, metrics_route
from .web.blueprint import gateway_base
from .web.host_api import GatewayRegistration, find_api

logger = logging.getLogger("flask_indox_media")
logger.addHandler(logging.NullHandler())


def _warn_risky(app: Flask, settings: Settings) -> None:
    # On the app's logger, which `flask run` and gunicorn show, unlike ours.
    if settings.redis_url is None:
        app.logger.warning(
            "indox-media: INDOX_MEDIA_REDIS_URL is not set, so assets are mirrored "
            "in-process before each response returns. This is for development, "
            "not for production."
        )
    if settings.resemble_api_key is None:
        app.logger.warning(
            "indox-media: INDOX_MEDIA_RESEMBLE_API_KEY is not set: Resemble will "
            "answer 401 to every proxied call."
        )


class IndoxMedia:
    """The Flask extension.

    :param app: the app to register with now, or ``None`` to call
        :meth:`init_app` later.
    :param api: the flask-smorest ``Api`` to register the gateway blueprint
        with. Without it, the one ``Api`` already initialized on the app is used
        (several: :exc:`ConfigurationError`); with none, the registration waits
        for the app's first app context, then uses the ``Api`` initialized by
        then or creates one, with ``API_TITLE``, ``API_VERSION`` and
        ``OPENAPI_VERSION`` defaulted. See
        :mod:`flask_indox_media.web.host_api`.
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
        :raises ConfigurationError: a key is missing or invalid (it is named), or
            the app has several flask-smorest ``Api`` objects and none was given.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "IndoxMedia is already registered on this app; create one IndoxMedia "
                "per app, or call init_app once."
            )
        # Before anything is registered: a host with two Apis fails cleanly.
        find_api(app, self.api)
        # Validated here, not lazily, so a bad setting fails at start-up rather
        # than at the first request. Backends named by dotted path are loaded
        # first: their keys are known keys too.
        chosen, mirrors = named_backends(app.config, os.environ)
        classes = backend_classes([*(c[0] for c in [chosen] if c), *mirrors])
        apply_defaults(app.config, [DEFAULTS, *config_defaults(classes.values())])
        backend = chosen or default_backend(configured(app.config, classes))
        settings = load_settings(
            app.config,
            instance_path=app.instance_path,
            backend=backend,
            mirrors=mirrors,
        )
        backends = create_backends(app.config, settings, classes)
        state = IndoxMediaState(self, settings, backends)
        state.catalog.link_base = gateway_base
        app.extensions[EXTENSION_KEY] = state
        local = backends.get("local")
        if isinstance(local, LocalBackend):
            local.url_base = local_files.request_base_url
            app.register_blueprint(local_files.bp, url_prefix=local.url_prefix)
        GatewayRegistration(self.api, settings.url_prefix, settings.openapi).start(app)
        metrics_route.register(app, settings.metrics_path)
        health.register(app, settings.health_prefix)
        app.cli.add_command(cli)
        metrics.install()
        _warn_risky(app, settings)
        app.logger.info(
            "indox-media: new assets go to %s, chosen by %s (configured: %s)",
            settings.storage_backend,
            settings.storage_backend_source,
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
        return current_state()
