"""Callbacks of async jobs: the gateway's signed callback URL stands in for
the caller's; when Resemble calls it, the audio is mirrored and the rewritten
payload forwarded to the caller's own URL (:mod:`flask_indox_media.mirror.forward`).

Tokens: ``1.<payload>.<signature>`` since 0.2 (itsdangerous, rotating keys),
``<payload>.<signature>`` before, still accepted.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, g, request, url_for
from flask_smorest.error_handler import ErrorSchema

from ..exceptions import RequestError
from ..mirror.forward import deliver
from ..state import current_state
from ..tokens import CALLBACK, TokenSigner, b64decode, b64encode
from .blueprint import bp, user_id
from .openapi import CALLBACKS
from .responses import CALLBACK_PAYLOAD

_V1 = "1."


def _signer() -> TokenSigner:
    return TokenSigner(current_state().settings.signing_keys, CALLBACK)


def callback_url(original: str, kind: str) -> str:
    """The gateway's own signed callback URL standing for ``original``."""
    message = json.dumps([user_id(), original, kind], separators=(",", ":"))
    token = f"{_V1}{b64encode(message)}.{_signer().sign(message)}"
    path = url_for("indox_media_gateway.callback", token=token)
    base = current_state().settings.public_url or request.host_url.rstrip("/")
    return base + path


def read_token(token: str) -> tuple[str, str, str] | None:
    """``(user id, original callback URL, kind)`` of a valid token, else ``None``."""
    legacy = not token.startswith(_V1)
    body, _, signature = token.removeprefix(_V1).partition(".")
    try:
        message = b64decode(body)
    except ValueError:
        return None
    signer = _signer()
    verify = signer.verify_legacy if legacy else signer.verify
    # Verified before parsing: only the gateway's own messages reach json.loads.
    if not verify(message, signature):
        return None
    try:
        user, original, kind = json.loads(message)
    except (ValueError, TypeError):
        return None
    return str(user), str(original), str(kind)


def substitute_callback(body: dict[str, Any], kind: str) -> None:
    """Swap the caller's ``callback_uri`` for the gateway's own, in place."""
    original = body.get("callback_uri")
    if isinstance(original, str) and original:
        body["callback_uri"] = callback_url(original, kind)


@bp.route("/callbacks/<token>", methods=["POST"], merge_slashes=False, tags=[CALLBACKS])
@bp.alt_response(
    200,
    schema=CALLBACK_PAYLOAD,
    description="The payload, rewritten, as forwarded to the caller's URL",
    success=True,
)
@bp.alt_response(400, schema=ErrorSchema, description="The body is not JSON")
@bp.alt_response(404, schema=ErrorSchema, description="A forged or garbled token")
def callback(token: str) -> Response:
    """Receive Resemble's callback for an async job.

    The URL the gateway gave Resemble in place of the caller's callback_uri,
    authenticated by its signed token. The audio is mirrored and the rewritten
    payload forwarded to the caller's own URL.
    """
    read = read_token(token)
    if read is None:
        raise RequestError(404, "unknown callback")
    user, original, kind = read
    g._indox_media_user = user
    payload = request.get_json(force=True, silent=True)
    if payload is None:
        raise RequestError(400, "the callback body is not JSON")
    kind = "batch" if isinstance(payload, dict) and "clips" in payload else kind
    body = json.dumps(payload).encode()
    forwarded = deliver(current_state(), body, kind, user, original)
    return Response(forwarded, status=200, content_type="application/json")
