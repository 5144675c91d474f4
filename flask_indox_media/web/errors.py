"""The one error path: every :class:`~flask_indox_media.exceptions.IndoxMediaError`
that escapes a route becomes flask-smorest's error body (``code``, ``status``,
``message``, ``errors``) with the status the exception carries. Invalid
arguments take the same path (:class:`ArgumentsParser`), so a 422 has a
``message`` like every other error."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, NoReturn

import marshmallow as ma
from flask import Request, Response
from webargs.flaskparser import FlaskParser

from ..exceptions import IndoxMediaError, RequestError


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


def summary(messages: Mapping[str, Any] | list[Any]) -> str:
    """A one-line message for webargs' per-location ``messages``: the fields
    at fault (``invalid json fields: text, voice_uuid``), or the message
    itself when a whole location is at fault (``Invalid JSON body.``)."""
    parts = []
    items = messages.items() if isinstance(messages, Mapping) else [("", messages)]
    for location, found in items:
        if isinstance(found, Mapping):
            parts.append(f"invalid {location} fields: {', '.join(map(str, found))}")
        else:
            parts.append(" ".join(str(m) for m in found) if found else str(location))
    return "; ".join(parts) or "invalid request"


class ArgumentsParser(FlaskParser):
    """webargs' Flask parser, whose failures raise the gateway's own
    :class:`~flask_indox_media.exceptions.RequestError`: the status webargs
    chose (422, or 400 for a body that is not JSON), the same ``errors``, and
    a ``message`` naming the fields. flask-smorest's own handler, which the
    host's ``Api`` owns, would answer without a message."""

    def handle_error(
        self,
        error: ma.ValidationError,
        req: Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        messages = error.messages if isinstance(error.messages, dict) else {}
        raise RequestError(
            error_status_code or self.DEFAULT_VALIDATION_STATUS,
            summary(error.messages),
            errors=messages,
        )

    def _handle_invalid_json_error(
        self, error: Exception, req: Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        raise RequestError(
            400, "the body is not valid JSON", errors={"json": ["Invalid JSON body."]}
        )
