"""A runnable host app for flask-indox-media.

``create_app(config)`` reads ``INDOX_MEDIA_*`` and ``STORAGE_BACKEND`` from the
environment, then ``config`` (which wins), and identifies callers by API key.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, request

from flask_indox_media import IndoxMedia
from flask_indox_media.testing import audio_page_html

#: Used only when neither the config nor the environment gives a key: the demo
#: runs with no set-up. Never deploy with these.
DEV_DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": "dev-only-secret-change-me",
    "API_KEYS": {"demo-key": "demo-user"},
}


def api_key_from_request() -> str | None:
    """The caller's key, from ``Authorization: Bearer <key>``, or as the
    official ``resemble`` SDK sends it: ``Authorization: Token token=<key>``
    (its app API calls) and ``x-access-token: <key>`` (``clips.stream``)."""
    header = request.headers.get("Authorization", "")
    if not header:
        return request.headers.get("x-access-token", "").strip() or None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "token" and value.startswith("token="):
        return value.removeprefix("token=") or None
    return None


def _environ_config() -> dict[str, Any]:
    config: dict[str, Any] = {
        k: v for k, v in os.environ.items() if k.startswith("INDOX_MEDIA_")
    }
    if "SECRET_KEY" in os.environ:
        config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if "API_KEYS" in os.environ:  # "key1:user1,key2:user2"
        pairs = (p.split(":", 1) for p in os.environ["API_KEYS"].split(",") if ":" in p)
        config["API_KEYS"] = {k.strip(): u.strip() for k, u in pairs}
    return config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the example gateway app.

    :param config: settings that win over the environment and the defaults.
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(DEV_DEFAULTS)
    app.config.update(_environ_config())
    app.config.update(config or {})
    media = IndoxMedia(app)

    @media.identity_loader
    def load_user() -> str | None:
        key = api_key_from_request()
        return app.config["API_KEYS"].get(key) if key else None

    app.add_url_rule("/player", view_func=player)
    return app


def player() -> str:
    """``GET /player?src=<audio URL>``: a demo page with one
    ``<audio crossorigin="anonymous">`` element playing ``src`` (an
    ``audio_url``), to try browser playback and the CORS rules
    (``flask indox-media cors apply``) from this app's origin. The URL is only
    placed in the page (escaped), never fetched by the server."""
    src = request.args.get("src", "")
    if urlsplit(src).scheme not in ("http", "https"):
        abort(400, "src must be an http(s) URL")
    return audio_page_html(src, title="flask-indox-media player")
