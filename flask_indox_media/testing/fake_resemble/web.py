"""What every route of the fake shares: the JSON error path, request bodies,
pagination, timestamps and the accessor for the fake behind the app."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

if TYPE_CHECKING:
    from .core import FakeResemble

#: Where the fake keeps itself on its Flask app.
EXTENSION_KEY = "fake_resemble"


class ApiError(Exception):
    """An error answered as Resemble does: ``{"success": false, "message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def the_fake() -> FakeResemble:
    """The :class:`FakeResemble` serving the current request."""
    return cast("FakeResemble", current_app.extensions[EXTENSION_KEY])


def error_response(status: int, message: str) -> Response:
    response = jsonify(success=False, message=message)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """Answer every error in JSON, unknown routes and wrong methods included:
    a client under test should never have to parse an HTML error page."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error.status, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 404:
            message = f"Not found: {request.method} {request.path}"
        else:
            message = error.description or error.name
        return error_response(status, message)

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        current_app.logger.exception("the fake Resemble failed")
        return error_response(500, f"Internal server error: {type(error).__name__}")


def json_body() -> dict[str, Any]:
    """The request's JSON object; a 400 when it is missing or not an object."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "a JSON object body is required")
    return body


def require(body: dict[str, Any], *fields: str) -> None:
    """A 400 naming the first of ``fields`` that is missing or empty."""
    for field in fields:
        if body.get(field) in (None, "", []):
            raise ApiError(400, f"{field} is required")


def now() -> str:
    """The current time as Resemble writes it (ISO 8601, UTC, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def form_bool(value: str | None, default: bool) -> bool:
    """A multipart boolean, sent by the SDK as ``"true"`` or ``"false"``."""
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


def paginate(items: list[dict[str, Any]]) -> Response:
    """One page of ``items`` per the ``page`` and ``page_size`` query
    arguments, in Resemble's list shape."""
    try:
        page = max(1, int(request.args.get("page", 1)))
        page_size = max(1, min(1000, int(request.args.get("page_size", 10))))
    except ValueError:
        raise ApiError(400, "page and page_size must be integers") from None
    start = (page - 1) * page_size
    return jsonify(
        success=True,
        page=page,
        num_pages=max(1, math.ceil(len(items) / page_size)),
        page_size=page_size,
        items=items[start : start + page_size],
    )


def found(store: dict[str, dict[str, Any]], uuid: str, what: str) -> dict[str, Any]:
    """``store[uuid]``, or a JSON 404 naming ``what``."""
    item = store.get(uuid)
    if item is None:
        raise ApiError(404, f"{what} {uuid} not found")
    return item
