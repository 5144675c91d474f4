"""The one error path: every :class:`~flask_indox_media.exceptions.IndoxMediaError`
that escapes a route becomes flask-smorest's error body (``code``, ``status``,
``message``, ``errors``) with the status the exception carries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Response

from ..exceptions import IndoxMediaError


def error_response(
    status: int, message: str, errors: Mapping[str, Any] | None = None
) -> Response:
    """A JSON error in flask-smorest's shape."""
    body: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    return Response(json.dumps(body), status=status, content_type="application/json")


def handle_error(exc: IndoxMediaError) -> Response:
    """The error handler registered for :class:`IndoxMediaError`."""
    message, errors = exc.public()
    return error_response(exc.status, message, errors)
