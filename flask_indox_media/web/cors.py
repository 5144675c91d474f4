"""CORS for the local backend's file responses, so that a page's
``<audio crossorigin>`` plays them as it plays S3 and R2 URLs once the bucket
has the rules of ``flask indox-media cors apply``: the same origins
(:data:`~flask_indox_media.config.INDOX_MEDIA_CORS_ORIGINS`), methods and
headers."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from ..state import current_state

#: As in the bucket rules (``ops.bucket_rules.desired_cors``): a player reads
#: these to seek with ``Range`` requests.
EXPOSE_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "ETag")
ALLOW_METHODS = ("GET", "HEAD")
ALLOW_HEADERS = ("Range",)
MAX_AGE_SECONDS = 3600


def add_cors_headers(response: Response) -> Response:
    """An ``after_request`` hook: echo an allowed ``Origin`` (or answer its
    preflight); with origins configured, every answer varies by ``Origin``,
    so a cache never gives one origin's answer to another."""
    origins = current_state().settings.cors_origins
    if not origins:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin is None or (origin not in origins and "*" not in origins):
        return response
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = origin
    headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSE_HEADERS)
    if request.method == "OPTIONS":
        headers["Access-Control-Allow-Methods"] = ", ".join(ALLOW_METHODS)
        headers["Access-Control-Allow-Headers"] = ", ".join(ALLOW_HEADERS)
        headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return response
