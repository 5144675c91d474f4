"""The gateway's flask-smorest Blueprint, its authentication and its error
handler. The route modules (:mod:`.resemble`, :mod:`.native`, :mod:`.callbacks`,
:mod:`.uploads`, :mod:`.media`) register on it; :mod:`flask_indox_media.web`
imports them all."""

from __future__ import annotations

from flask import g, has_request_context, request
from flask_smorest import Blueprint

from ..exceptions import IndoxMediaError, InvalidKeyPartError, RequestError
from ..keys import validate_user_id
from ..state import current_state
from .errors import ArgumentsParser, handle_error
from .limits import check_json_body


class GatewayBlueprint(Blueprint):  # type: ignore[misc]  # flask-smorest is untyped
    """flask-smorest's Blueprint, its arguments and pagination parameters
    parsed by :class:`~.errors.ArgumentsParser` (invalid ones answer through
    the one error handler)."""

    ARGUMENTS_PARSER = ArgumentsParser()
    PAGINATION_ARGUMENTS_PARSER = ArgumentsParser()


bp = GatewayBlueprint(
    "indox_media_gateway",
    __name__,
    description="Resemble AI, proxied: every audio asset is mirrored to the gateway's "
    "bucket and gains audio_url, expires_at and resemble_url.",
)
bp.register_error_handler(IndoxMediaError, handle_error)

#: Endpoints authenticated by a token of their own, not the caller's API key.
PUBLIC_ENDPOINTS = {"indox_media_gateway.callback", "indox_media_gateway.play"}


def gateway_base() -> str | None:
    """The gateway's absolute base URL (``INDOX_MEDIA_PUBLIC_URL``, else the
    current request's host), with its prefix; ``None`` outside a request
    without a public URL."""
    settings = current_state().settings
    host = settings.public_url
    if host is None and has_request_context():
        host = request.host_url.rstrip("/")
    return None if host is None else host + settings.url_prefix


def user_id() -> str:
    """The authenticated caller (set before every route)."""
    return str(g._indox_media_user)


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
