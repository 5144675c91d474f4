"""Which flask-smorest ``Api`` the gateway blueprint joins, and when.

In order: the ``Api`` passed as ``IndoxMedia(app, api=...)``; else the one
``Api`` already initialized on the app; else one the extension creates. A host
with several must say which (``api=``).

flask-smorest 0.47 keeps every ``Api`` initialized on an app at
``app.extensions["flask-smorest"]["apis"]``, config prefix to
``{"ext_obj": api}`` (the registry its ``flask openapi`` commands read), so the
host's ``Api`` is found there, not guessed.

When ``init_app`` finds no ``Api`` (the extension initialised before the
host's), the registration waits for the app's first app context (a request, a
CLI command, ``with app.app_context()``): a host ``Api`` initialized in between
is then found, and no second ``Api`` is made.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, appcontext_pushed
from flask_smorest import Api
from flask_smorest.spec import openapi_cli

from ..exceptions import ConfigurationError
from . import docs_assets
from .blueprint import bp
from .docs_assets import ASSETS_PATH, assets_url
from .openapi import prepare_api


def host_apis(app: Flask) -> dict[str, Any]:
    """The flask-smorest ``Api`` objects initialized on ``app``, by config
    prefix."""
    registry = app.extensions.get("flask-smorest", {}).get("apis", {})
    return {prefix: entry["ext_obj"] for prefix, entry in registry.items()}


def find_api(app: Flask, given: Any = None) -> Any:
    """The ``Api`` the gateway joins on ``app``, or ``None`` when there is none
    yet (or ``given`` is not initialized on ``app`` yet).

    :param given: the ``Api`` passed as ``IndoxMedia(api=...)``; it wins.
    :raises ConfigurationError: ``app`` has several ``Api`` objects and
        ``given`` is ``None``.
    """
    apis = host_apis(app)
    if given is not None:
        return given if any(api is given for api in apis.values()) else None
    if len(apis) > 1:
        prefixes = ", ".join(repr(prefix) for prefix in apis)
        raise ConfigurationError(
            f"The app has {len(apis)} flask-smorest Apis (config prefixes "
            f"{prefixes}); pass the one the gateway joins: IndoxMedia(app, api=...)."
        )
    return next(iter(apis.values()), None)


def create_api(app: Flask, url_prefix: str, serve_docs: bool) -> Any:
    """The extension's own ``Api``, for a host without one. ``setdefault``
    throughout: the host's own ``API_*`` and ``OPENAPI_*`` settings win."""
    app.config.setdefault("API_TITLE", "Resemble gateway")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    if serve_docs:
        app.config.setdefault("OPENAPI_URL_PREFIX", url_prefix)
        app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
        app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
        # Swagger UI's files from this package, not a CDN: the UI works offline.
        app.config.setdefault("OPENAPI_SWAGGER_UI_URL", assets_url(url_prefix))
        app.register_blueprint(docs_assets.bp, url_prefix=url_prefix + ASSETS_PATH)
    return Api(app)


class GatewayRegistration:
    """Registers the gateway blueprint on one app's ``Api``, once.

    :param api: the ``Api`` passed as ``IndoxMedia(api=...)``, or ``None``.
    :param url_prefix: where the gateway's routes go.
    :param serve_docs: whether an ``Api`` the extension creates serves the
        document (:data:`~flask_indox_media.config.INDOX_MEDIA_OPENAPI`).
    """

    def __init__(self, api: Any, url_prefix: str, serve_docs: bool) -> None:
        self.api = api
        self.url_prefix = url_prefix
        self.serve_docs = serve_docs
        #: Why a deferred registration failed, raised by every request.
        self.failure: str | None = None
        # Reentrant: registering may push an app context of its own.
        self._lock = threading.RLock()
        self._started = False

    def start(self, app: Flask) -> None:
        """Register now if the ``Api`` is there, else at the first app context.

        :raises ConfigurationError: several ``Api`` objects and no ``api=``.
        """
        api = find_api(app, self.api)
        if api is not None:
            self._register(api)
            return
        # Deferred. The app object is not kept here (the signal passes it as
        # its sender), so an unused app can still be collected.
        appcontext_pushed.connect(self._on_app_context, sender=app, weak=False)
        app.before_request(self._check)
        # `flask openapi` must be listed before a command pushes the context
        # that creates the Api whose document it prints.
        app.cli.add_command(openapi_cli)

    def _on_app_context(self, sender: Flask, **_: Any) -> None:
        # Never raises: an exception while a context is being pushed leaves it
        # pushed, and a request then fails with an unrelated LookupError. The
        # failure is logged now and raised by every request (`_check`).
        # Every thread's first context waits here until the routes are in
        # place: a request let through early would be the app's "first
        # request", after which Flask refuses register_blueprint.
        with self._lock:
            if self._started:
                return  # done, or this thread's own context pushed while doing it
            self._started = True
            try:
                self._finish(sender)
            except Exception as error:
                self.failure = f"the gateway's routes are not registered: {error}"
                sender.logger.exception("indox-media: %s", self.failure)
            finally:
                appcontext_pushed.disconnect(self._on_app_context, sender=sender)

    def _check(self) -> None:
        if self.failure is not None:
            raise ConfigurationError(self.failure)

    def _finish(self, app: Flask) -> None:
        api = find_api(app, self.api)
        if api is None and self.api is not None:
            raise ConfigurationError(
                "IndoxMedia(api=...) was given an Api that is not initialized on "
                "this app: call api.init_app(app) before the app is first used."
            )
        if api is None:
            api = create_api(app, self.url_prefix, self.serve_docs)
        self._register(api)

    def _register(self, api: Any) -> None:
        # The schema converter must be in place before the views are documented.
        prepare_api(api)
        api.register_blueprint(bp, url_prefix=self.url_prefix)
