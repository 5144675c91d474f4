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
from .web import bp as gateway_blueprint
from .web import local_files, metrics_route
from .web.blueprint import gateway_base
from .web.openapi import prepare_api

logger = logging.getLogger("flask_indox_media")
logger.addHandler(logging.NullHandler())

#: Swagger UI's scripts, when the extension serves the document itself.
SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"


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
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "IndoxMedia is already registered on this app; create one IndoxMedia "
                "per app, or call init_app once."
            )
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
        self._register_api(app, settings.url_prefix, settings.openapi)
        metrics_route.register(app, settings.metrics_path)
        app.cli.add_command(cli)
        metrics.install()
        _warn_risky(app, settings)
        app.logger.info(
            "indox-media: new assets go to %s, chosen by %s (configured: %s)",
            settings.storage_backend,
            settings.storage_backend_source,
            ", ".join(backends),
        )

    def _register_api(self, app: Flask, url_prefix: str, serve_docs: bool) -> None:
        api = self.api
        if api is None:
            app.config.setdefault("API_TITLE", "Resemble gateway")
            app.config.setdefault("API_VERSION", "v1")
            app.config.setdefault("OPENAPI_VERSION", "3.0.3")
            if serve_docs:
                # setdefault: a host's own OPENAPI_* settings win.
                app.config.setdefault("OPENAPI_URL_PREFIX", url_prefix)
                app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
                app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
                app.config.setdefault("OPENAPI_SWAGGER_UI_URL", SWAGGER_UI_URL)
            api = Api(app)
        # The schema converter must be in place before the views are documented.
        prepare_api(api)
        api.register_blueprint(gateway_blueprint, url_prefix=url_prefix)

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
