"""The gateway's flask-smorest Blueprint, its request ids, its authentication
and its error handler. The route modules (:mod:`.resemble`, :mod:`.native`,
:mod:`.callbacks`, :mod:`.uploads`, :mod:`.media`) register on it;
:mod:`flask_indox_media.web` imports them all."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, g, has_request_context, request
from flask.blueprints import BlueprintSetupState
from flask_smorest import Blueprint

from ..exceptions import IndoxMediaError, InvalidKeyPartError, RequestError
from ..keys import (
    MAX_REQUEST_ID_LENGTH,
    new_request_id,
    validate_request_id,
    validate_user_id,
)
from ..state import EXTENSION_KEY, current_state
from .errors import ArgumentsParser, handle_error
from .limits import check_json_body


class GatewayBlueprint(Blueprint):  # type: ignore[misc]  # flask-smorest is untyped
    """flask-smorest's Blueprint, its arguments and pagination parameters
    parsed by :class:`~.errors.ArgumentsParser` (invalid ones answer through
    the one error handler)."""

    ARGUMENTS_PARSER = ArgumentsParser()
    PAGINATION_ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """flask-smorest's :meth:`~flask_smorest.Blueprint.arguments`, with a
        schema class made an instance once, here: webargs would build one per
        request (``PageArgs()`` alone took about a third of what the gateway
        adds to a no-audio answer). A marshmallow 4 schema keeps no state
        between loads, so the routes' threads share it."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)


bp = GatewayBlueprint(
    "indox_media_gateway",
    __name__,
    description="Resemble AI, proxied: every audio asset is mirrored to the gateway's "
    "bucket and gains audio_url, expires_at and resemble_url.",
)
bp.register_error_handler(IndoxMediaError, handle_error)

#: Endpoints authenticated by a token of their own, not the caller's API key.
PUBLIC_ENDPOINTS = {"indox_media_gateway.callback", "indox_media_gateway.play"}
#: The header a caller names its request by, echoed in every gateway answer.
REQUEST_ID_HEADER = "X-Request-ID"
#: Random hex digits after the request id in each asset's key.
SUFFIX_DIGITS = 8
#: How much of the request id an asset's key shows (the key part has a limit).
VISIBLE_LENGTH = MAX_REQUEST_ID_LENGTH - 1 - SUFFIX_DIGITS


def gateway_base() -> str | None:
    """The gateway's absolute base URL (``INDOX_MEDIA_PUBLIC_URL``, else the
    current request's host), with its prefix; ``None`` outside a request
    without a public URL."""
    in_request = has_request_context()
    if in_request:
        # Asked once per asset of an answer: the request's is kept on g.
        kept: str | None = g.get("_indox_media_base")
        if kept is not None:
            return kept
    settings = current_state().settings
    host = settings.public_url
    if host is None and in_request:
        host = request.host_url.rstrip("/")
    base = None if host is None else host + settings.url_prefix
    if in_request and base is not None:
        g._indox_media_base = base
    return base


def user_id() -> str:
    """The authenticated caller (set before every route)."""
    return str(g._indox_media_user)


def asset_request_id() -> str | None:
    """The request id part of a new asset's key during a gateway request: the
    request's id (cut to :data:`VISIBLE_LENGTH`), a dash and
    :data:`SUFFIX_DIGITS` random hex digits, never twice in one request, so
    several assets of one answer, and a caller's id reused within one second,
    still get distinct keys. ``None`` outside a request: a fresh id then."""
    base: str | None = (
        g.get("_indox_media_request_id") if has_request_context() else None
    )
    if base is None:
        return None
    used: set[str] = g.setdefault("_indox_media_request_suffixes", set())
    suffix = secrets.token_hex(SUFFIX_DIGITS // 2)
    while suffix in used:
        suffix = secrets.token_hex(SUFFIX_DIGITS // 2)
    used.add(suffix)
    return f"{base[:VISIBLE_LENGTH]}-{suffix}"


@bp.record_once
def _new_assets_take_request_ids(setup: BlueprintSetupState) -> None:
    # The catalog knows no Flask: it asks this for each new asset's request id.
    setup.app.extensions[EXTENSION_KEY].catalog.request_ids = asset_request_id


@bp.before_request
def _take_request_id() -> None:
    # First of the hooks, so even a refused request answers with its id.
    value = request.headers.get(REQUEST_ID_HEADER, "")
    try:
        g._indox_media_request_id = validate_request_id(value)
    except InvalidKeyPartError:
        g._indox_media_request_id = new_request_id()


@bp.after_request
def _echo_request_id(response: Response) -> Response:
    request_id = g.get("_indox_media_request_id")
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    user = current_state().current_user()
    if not user:
        raise RequestError(401, "missing or invalid API key")
    try:
        g._indox_media_user = validate_user_id(user)
    except InvalidKeyPartError:
        raise RequestError(401, "this API key's user id cannot own assets") from None


# After authentication: an unknown caller's body is never read.
bp.before_request(check_json_body)
