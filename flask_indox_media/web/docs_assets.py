"""Swagger UI's scripts and styles, served by the gateway itself from the
``swagger-ui-bundle`` package, so the document's UI works without reaching a
CDN (air-gapped hosts, CI, a browser test)."""

from __future__ import annotations

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

#: Where the assets are served, under the gateway's prefix.
ASSETS_PATH = "/docs-assets"

bp = Blueprint(
    "indox_media_docs_assets",
    __name__,
    static_folder=swagger_ui_path,
    static_url_path="/static",
)


def assets_url(url_prefix: str) -> str:
    """The URL Swagger UI's page loads its files from (ends in ``/``)."""
    return f"{url_prefix}{ASSETS_PATH}/static/"
